"""The embedded engine and the served one return the same results for the same calls.

Every step runs on an embedded Engine in one folder and, through the HTTP
client, on a server over another folder. Both outcomes must agree: the same
values (scores within a float tolerance) or the same error code and message.
Ids generated for documents upserted without ``_id`` differ between the two,
so results from the server are compared after mapping its ids to the embedded
ones.

Module fixtures build the shared read-only spaces once; a test that changes
a space creates its own, so each test also runs alone. Both databases get
every call in the same order, so the ids they assign to spaces and
partitions stay equal.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from vectordb_progress import wait_for_progress
from vectordb_server import ROOT_AUTH, start_server

from qiao.vectordb import Engine, ErrorCode, VectorDatabase, VectorDBError, connect
from qiao.vectordb.client import RemoteEngine

SCORE_TOLERANCE = 1e-5
FILTER_ROUNDS = 120

COLORS = ["red", "green", "blue", "black", "white"]
TAGS = ["t0", "t1", "t2", "t3", "t4", "t5"]
FIRST_DAY = datetime(2024, 1, 1, tzinfo=UTC)


def scalar(name: str, field_type: str) -> dict[str, Any]:
    return {"name": name, "type": field_type, "index": {"name": name, "type": "INVERTED"}}


def vector(name: str, dimension: int, index_type: str, metric: str) -> dict[str, Any]:
    params: dict[str, Any] = {"metric_type": metric}
    if index_type == "HNSW":
        params.update({"nlinks": 16, "efConstruction": 64})
    return {
        "name": name,
        "type": "vector",
        "dimension": dimension,
        "index": {"name": f"{name}_index", "type": index_type, "params": params},
    }


PRODUCTS_SCHEMA = {
    "name": "products",
    "replica_num": 1,
    "fields": [
        scalar("year", "integer"),
        scalar("rank", "long"),
        scalar("price", "float"),
        scalar("weight", "double"),
        scalar("sold", "date"),
        scalar("color", "keyword"),
        scalar("tags", "stringArray"),
        {"name": "note", "type": "string"},
        vector("emb", 8, "FLAT", "InnerProduct"),
    ],
}

TWO_VECTOR_SCHEMA = {
    "name": "pairs",
    "replica_num": 1,
    "fields": [
        scalar("n", "integer"),
        scalar("when", "date"),
        scalar("labels", "stringArray"),
        vector("first", 6, "HNSW", "L2"),
        vector("second", 4, "FLAT", "L2"),
    ],
}


# Running each step on both databases.


def outcome(action: Callable[[], Any]) -> tuple[str, Any]:
    """Return ``("ok", value)`` or ``("error", (code, msg))`` of one call."""
    try:
        return "ok", action()
    except VectorDBError as error:
        return "error", (error.code, error.msg)


def assert_same(expected: Any, actual: Any, where: str = "result") -> None:
    """Compare two JSON-like values; floats may differ by SCORE_TOLERANCE."""
    if isinstance(expected, float) or isinstance(actual, float):
        assert isinstance(actual, int | float), f"{where}: {actual!r} is not a number"
        assert math.isclose(expected, actual, rel_tol=SCORE_TOLERANCE, abs_tol=SCORE_TOLERANCE), (
            f"{where}: embedded {expected!r} != served {actual!r}"
        )
    elif isinstance(expected, dict):
        assert isinstance(actual, dict), f"{where}: served {actual!r} is not an object"
        assert list(expected) == list(actual), f"{where}: keys differ"
        for key in expected:
            assert_same(expected[key], actual[key], f"{where}.{key}")
    elif isinstance(expected, list | tuple):
        assert isinstance(actual, list | tuple), f"{where}: served {actual!r} is not a list"
        assert len(expected) == len(actual), (
            f"{where}: embedded has {len(expected)} items, served {len(actual)}"
        )
        for position, (left, right) in enumerate(zip(expected, actual, strict=True)):
            assert_same(left, right, f"{where}[{position}]")
    else:
        assert expected == actual, f"{where}: embedded {expected!r} != served {actual!r}"


class Twin:
    """An embedded and a served database that receive the same calls."""

    def __init__(self, embedded: VectorDatabase, served: VectorDatabase) -> None:
        self.embedded = embedded
        self.served = served
        # Served generated id -> the embedded id generated for the same document.
        self.id_map: dict[str, str] = {}

    def translate(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.id_map.get(value, value)
        if isinstance(value, list | tuple):
            return [self.translate(item) for item in value]
        if isinstance(value, dict):
            return {key: self.translate(item) for key, item in value.items()}
        return value

    def check(self, call: Callable[[Any], Any], where: str) -> Any:
        """Run ``call(database)`` on both; return the embedded result after checking agreement."""
        expected = outcome(lambda: call(self.embedded))
        actual = outcome(lambda: call(self.served))
        assert expected[0] == actual[0], f"{where}: embedded {expected} but served {actual}"
        assert_same(expected[1], self.translate(actual[1]), where)
        return expected[1]

    def check_space(self, space: str, call: Callable[[Any], Any], where: str) -> Any:
        return self.check(lambda database: call(database.get_space("demo", space)), where)

    def upsert(
        self, space: str, documents: list[dict[str, Any]], partitions: list[int] | None = None
    ) -> list[str]:
        """Upsert into both; map generated ids and compare the explicit ones."""
        embedded_ids = self.embedded.get_space("demo", space).upsert(documents, partitions)
        served_ids = self.served.get_space("demo", space).upsert(documents, partitions)
        assert len(embedded_ids) == len(served_ids) == len(documents)
        for document, left, right in zip(documents, embedded_ids, served_ids, strict=True):
            if "_id" in document:
                assert left == right == document["_id"]
            else:
                assert right not in self.id_map, f"served generated id {right} twice"
                self.id_map[right] = left
        return embedded_ids

    def expect_error(self, call: Callable[[Any], Any], code: ErrorCode, where: str) -> None:
        result = self.check(call, where)
        assert isinstance(result, tuple) and result[0] == code, f"{where}: got {result!r}"

    def wait_indexed(self, space: str, rows: int, timeout: float = 30.0) -> None:
        """Wait until both spaces report ``index_progress() == (2, rows)``."""
        for database in (self.embedded, self.served):
            wait_for_progress(database.get_space("demo", space), (2, rows), timeout)


@pytest.fixture(scope="module")
def twin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Twin]:
    embedded = connect(tmp_path_factory.mktemp("embedded") / "db")
    base_url, stop = start_server(tmp_path_factory.mktemp("served") / "db")
    served = connect(base_url, auth=ROOT_AUTH, timeout=30)
    assert isinstance(embedded, Engine)
    assert isinstance(served, RemoteEngine)
    try:
        pair = Twin(embedded, served)
        pair.check(lambda db: db.create_database("demo"), "create_database")
        yield pair
    finally:
        served.close()
        stop()
        embedded.close()


_SPACE_NUMBERS = itertools.count()


@pytest.fixture
def scratch(twin: Twin) -> Iterator[Callable[[dict[str, Any]], str]]:
    """Create spaces of a test on both databases; they are dropped after the test."""
    created: list[str] = []

    def create(schema: dict[str, Any]) -> str:
        name = f"{schema['name']}_{next(_SPACE_NUMBERS)}"
        twin.check(lambda db: db.create_space("demo", {**schema, "name": name}).name, name)
        created.append(name)
        return name

    yield create
    for name in created:
        twin.check(lambda db, name=name: db.drop_space("demo", name), f"drop {name}")


# Documents.


def product(rng: random.Random, number: int, with_id: bool) -> dict[str, Any]:
    document: dict[str, Any] = {
        "year": rng.randint(1990, 2030),
        "rank": rng.randint(-(10**12), 10**12),
        "price": round(rng.uniform(0, 500), 2),
        "weight": rng.uniform(-50, 50),
        "sold": (FIRST_DAY + timedelta(days=rng.randint(0, 730))).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "color": rng.choice(COLORS),
        "tags": rng.sample(TAGS, rng.randint(0, 3)),
        "note": f"item {number}",
        "emb": [rng.uniform(-1, 1) for _ in range(8)],
    }
    if with_id:
        document["_id"] = f"p{number}"
    return document


def pair_document(rng: random.Random, number: int) -> dict[str, Any]:
    return {
        "_id": f"q{number}",
        "n": number,
        "when": rng.randint(1_700_000_000, 1_760_000_000),
        "labels": rng.sample(TAGS, 2),
        "first": [rng.uniform(-1, 1) for _ in range(6)],
        "second": [rng.uniform(-1, 1) for _ in range(4)],
    }


# Random filters.


def random_condition(rng: random.Random) -> dict[str, Any]:
    kind = rng.choice(["year", "rank", "price", "weight", "sold", "color", "tags"])
    if kind in ("color", "tags"):
        values = COLORS + ["purple"] if kind == "color" else TAGS + ["t9"]
        operator = rng.choice(["IN", "NOT IN"])
        return {"field": kind, "operator": operator, "value": rng.sample(values, rng.randint(1, 3))}
    operator = rng.choice(["<", "<=", ">", ">=", "=", "!=", "<>"])
    if kind == "year":
        value: Any = rng.randint(1988, 2032)
    elif kind == "rank":
        value = rng.randint(-(10**12), 10**12)
    elif kind == "price":
        value = round(rng.uniform(-10, 510), rng.choice([0, 2]))
    elif kind == "weight":
        value = rng.uniform(-55, 55)
    else:
        day = FIRST_DAY + timedelta(days=rng.randint(-10, 740))
        value = day.strftime("%Y-%m-%dT%H:%M:%SZ") if rng.random() < 0.5 else int(day.timestamp())
    return {"field": kind, "operator": operator, "value": value}


def random_filter(rng: random.Random) -> dict[str, Any]:
    conditions = [random_condition(rng) for _ in range(rng.randint(1, 4))]
    return {"operator": rng.choice(["AND", "OR"]), "conditions": conditions}


# Shared spaces, built once per module; tests only read them.


def fill_products(twin: Twin, space: str, count: int, seed: int) -> None:
    """Upsert ``count`` products in batches of 60; even numbers get ``_id`` ``p<number>``."""
    rng = random.Random(seed)
    documents = [product(rng, number, with_id=number % 2 == 0) for number in range(count)]
    for start in range(0, len(documents), 60):
        twin.upsert(space, documents[start : start + 60])


@pytest.fixture(scope="module")
def products(twin: Twin) -> str:
    twin.check(lambda db: db.create_space("demo", PRODUCTS_SCHEMA).name, "create products")
    fill_products(twin, "products", 240, seed=11)
    twin.check_space("products", lambda space: space.describe(), "describe products")
    return "products"


@pytest.fixture(scope="module")
def pairs(twin: Twin) -> str:
    twin.check(lambda db: db.create_space("demo", TWO_VECTOR_SCHEMA).name, "create pairs")
    rng = random.Random(12)
    twin.upsert("pairs", [pair_document(rng, number) for number in range(150)])
    twin.check_space("pairs", lambda space: space.describe(), "describe pairs")
    return "pairs"


@pytest.fixture(scope="module")
def best_alias(twin: Twin, products: str) -> str:
    twin.check(lambda db: db.create_alias("best", "demo", products), "create_alias best")
    return "best"


# Databases, spaces and aliases.


def test_databases_and_spaces_agree(twin: Twin):
    twin.check(lambda db: db.create_database("other"), "create_database other")
    twin.check(lambda db: db.list_databases(), "list_databases")
    twin.check(lambda db: db.describe_database("other"), "describe_database")

    twin.check(lambda db: db.create_space("other", PRODUCTS_SCHEMA).name, "create products")
    twin.check(lambda db: db.create_space("other", TWO_VECTOR_SCHEMA).name, "create pairs")
    twin.check(lambda db: db.list_spaces("other"), "list_spaces")
    for name in ("products", "pairs"):
        space = lambda db, name=name: db.get_space("other", name)  # noqa: E731
        twin.check(lambda db, space=space: space(db).describe(), f"describe {name}")
        twin.check(lambda db, space=space: space(db).describe(detail=True), f"detail {name}")
        twin.check(lambda db, space=space: space(db).entity(), f"entity {name}")
        twin.check(lambda db, space=space: space(db).indexes_info(), f"indexes {name}")
        twin.check(lambda db, space=space: space(db).index_progress(), f"progress {name}")
        twin.check(lambda db, name=name: db.drop_space("other", name), f"drop {name}")

    twin.check(lambda db: db.drop_database("other"), "drop_database")
    twin.check(lambda db: db.list_databases(), "list_databases after drop")


def test_aliases_agree(twin: Twin, products: str, pairs: str):
    twin.check(lambda db: db.create_alias("top", "demo", products), "create_alias")
    twin.check(lambda db: db.create_alias("spare", "demo", pairs), "create_alias spare")
    twin.check(lambda db: db.get_alias("top"), "get_alias")
    twin.check(lambda db: db.list_aliases(), "list_aliases")
    twin.check(lambda db: db.resolve_space("demo", "top").name, "resolve alias")
    twin.check(lambda db: db.resolve_space("demo", pairs).name, "resolve space name")

    twin.check(lambda db: db.update_alias("top", "demo", pairs), "update_alias")
    twin.check(lambda db: db.resolve_space("demo", "top").doc_num, "resolve updated alias")
    twin.check(lambda db: db.drop_alias("spare"), "drop_alias")
    twin.check(lambda db: db.drop_alias("top"), "drop_alias top")
    twin.check(lambda db: db.list_aliases(), "list_aliases after drop")


# Documents.


def test_upserts_agree(twin: Twin, scratch: Callable[[dict[str, Any]], str]):
    name = scratch(PRODUCTS_SCHEMA)
    fill_products(twin, name, 120, seed=13)

    # Partial updates leave the vector and the other fields as they were.
    twin.upsert(name, [{"_id": "p4", "price": 1.25}, {"_id": "p8", "tags": ["t9"]}])
    embedded_space = twin.embedded.get_space("demo", name)
    served_space = twin.served.get_space("demo", name)
    generated_ids = [doc["_id"] for doc in embedded_space.query(filters=ALL_YEARS, limit=200)]
    generated = next(i for i in generated_ids if not i.startswith("p"))
    served_generated = next(s for s, e in twin.id_map.items() if e == generated)
    embedded_space.upsert([{"_id": generated, "color": "purple", "year": 1980}])
    served_space.upsert([{"_id": served_generated, "color": "purple", "year": 1980}])

    ids = ["p4", "p8", "p9", "p0", "p4", generated, *generated_ids[-4:]]
    served_ids = [next((s for s, e in twin.id_map.items() if e == i), i) for i in ids]
    expected = embedded_space.get(ids, vector_value=True)
    actual = served_space.get(served_ids, vector_value=True)
    assert_same(expected, twin.translate(actual), "get after partial update")
    assert expected[0]["price"] == 1.25
    assert expected[1]["tags"] == ["t9"]
    assert expected[4]["color"] == "purple"

    twin.check_space(name, lambda space: space.doc_num, "doc_num")


ALL_YEARS = {"operator": "AND", "conditions": [{"field": "year", "operator": ">=", "value": 0}]}


def test_random_filters_agree(twin: Twin, products: str):
    rng = random.Random(2024)
    query_vector = [rng.uniform(-1, 1) for _ in range(8)]
    matched_any = 0
    for round_number in range(FILTER_ROUNDS):
        filters = random_filter(rng)
        limit = rng.choice([1, 5, 50, 300])
        fields = rng.choice([None, ["price", "sold"], ["tags", "emb"]])
        vector_value = rng.random() < 0.2
        found = twin.check_space(
            products,
            lambda space, filters=filters, limit=limit, fields=fields, vector_value=vector_value: (
                space.query(filters=filters, fields=fields, limit=limit, vector_value=vector_value)
            ),
            f"query {round_number} {filters}",
        )
        matched_any += bool(found)
        twin.check_space(
            products,
            lambda space, filters=filters: space.search(
                [{"field": "emb", "feature": query_vector}],
                filters=filters,
                limit=10,
                fields=["year", "color", "tags"],
            ),
            f"search {round_number} {filters}",
        )
    # The generator must produce selective and broad filters, not only empty results.
    assert FILTER_ROUNDS // 4 < matched_any < FILTER_ROUNDS


def test_searches_agree(twin: Twin, products: str, pairs: str):
    rng = random.Random(5)
    features = [rng.uniform(-1, 1) for _ in range(8 * 3)]
    twin.check_space(
        products,
        lambda space: space.search([{"field": "emb", "feature": features}], limit=7),
        "three queries",
    )
    twin.check_space(
        products,
        lambda space: space.search(
            [{"field": "emb", "feature": features[:8]}],
            limit=4,
            vector_value=True,
            index_params={"metric_type": "L2"},
        ),
        "metric override with vectors",
    )

    bounded = twin.check_space(
        products,
        lambda space: space.search(
            [{"field": "emb", "feature": features[8:16], "min_score": 0.2, "max_score": 1.5}],
            limit=30,
            fields=["price"],
        ),
        "score bounds",
    )
    assert 0 < len(bounded[0]) < 30
    by_id = twin.check_space(
        products,
        lambda space: space.query(document_ids=["p6", "p6", "nope", "p10"], fields=["year"]),
        "query duplicate and missing ids",
    )
    assert [document["_id"] for document in by_id] == ["p6", "p6", "p10"]

    first = [rng.uniform(-1, 1) for _ in range(6)]
    second = [rng.uniform(-1, 1) for _ in range(4)]
    for ranker in (None, {"type": "WeightedRanker", "params": [0.8, 0.2]}):
        twin.check_space(
            pairs,
            lambda space, ranker=ranker: space.search(
                [{"field": "first", "feature": first}, {"field": "second", "feature": second}],
                limit=20,
                ranker=ranker,
            ),
            f"two vector fields, ranker {ranker}",
        )
    twin.check_space(
        pairs,
        lambda space: space.search(
            [{"field": "first", "feature": first}],
            filters={
                "operator": "AND",
                "conditions": [
                    {"field": "labels", "operator": "IN", "value": ["t1", "t2"]},
                    {"field": "when", "operator": ">=", "value": 1_720_000_000},
                ],
            },
            limit=15,
            l2_sqrt=True,
        ),
        "HNSW filtered with l2_sqrt",
    )


def test_query_paging_and_sort_agree(twin: Twin, products: str):
    pages = [
        {"sort": [{"year": "desc"}, "price"], "limit": 300},
        {"sort": [{"color": {"order": "asc"}}, {"rank": "desc"}], "page_size": 7, "page_num": 3},
        {"sort": ["sold"], "offset": 235, "limit": 10},
        {"page_size": 20, "page_num": 2},
        {"offset": 5, "limit": 3},
    ]
    for options in pages:
        twin.check_space(
            products,
            lambda space, options=options: space.query(
                filters=ALL_YEARS, fields=["year", "price", "color"], **options
            ),
            f"query {options}",
        )
    feature = [0.3] * 8
    for options in [
        {"sort": [{"_score": "asc"}], "limit": 12},
        {"sort": [{"year": "desc"}], "page_size": 5, "page_num": 2},
        {"offset": 10, "limit": 5},
    ]:
        twin.check_space(
            products,
            lambda space, options=options: space.search(
                [{"field": "emb", "feature": feature}], fields=["year"], **options
            ),
            f"search {options}",
        )
    for options in [{"page_num": 0, "page_size": 5}, {"sort": ["emb"]}, {"sort": [{"year": "up"}]}]:
        twin.expect_error(
            lambda db, options=options: db.get_space("demo", products).query(
                filters=ALL_YEARS, **options
            ),
            ErrorCode.PARAM_ERROR,
            f"bad paging {options}",
        )


def test_deletes_agree(twin: Twin, scratch: Callable[[dict[str, Any]], str]):
    name = scratch(PRODUCTS_SCHEMA)
    fill_products(twin, name, 240, seed=11)
    twin.check_space(
        name, lambda space: space.delete(document_ids=["p0", "p2", "missing"]), "delete ids"
    )
    cheap = {"operator": "AND", "conditions": [{"field": "price", "operator": "<", "value": 100}]}
    twin.check_space(name, lambda space: space.delete(filters=cheap, limit=7), "delete limit 7")
    red = {"operator": "OR", "conditions": [{"field": "color", "operator": "IN", "value": ["red"]}]}
    twin.check_space(name, lambda space: space.delete(filters=red), "delete red")
    twin.check_space(name, lambda space: space.query(filters=cheap, limit=300), "after")
    twin.check_space(name, lambda space: space.doc_num, "doc_num after deletes")
    twin.check_space(name, lambda space: space.describe(), "describe after deletes")


# Partitions.

HASH_SCHEMA = {
    "name": "hashed",
    "partition_num": 3,
    "replica_num": 1,
    "fields": [scalar("n", "integer"), vector("emb", 4, "FLAT", "L2")],
}
RANGES = [
    {"name": "y2023", "value": "2024-01-01"},
    {"name": "y2024", "value": "2025-01-01"},
    {"name": "y2025", "value": "2026-01-01"},
]
RANGE_SCHEMA = {
    **HASH_SCHEMA,
    "name": "ranged",
    "fields": [*HASH_SCHEMA["fields"], scalar("day", "date")],
    "partition_rule": {"type": "RANGE", "field": "day", "ranges": RANGES},
}


def numbered(rng: random.Random, start: int, count: int) -> list[dict[str, Any]]:
    return [
        {"_id": f"n{i}", "n": i, "emb": [rng.uniform(-1, 1) for _ in range(4)]}
        for i in range(start, start + count)
    ]


def test_hash_partitions_agree(twin: Twin, scratch: Callable[[dict[str, Any]], str]):
    name = scratch(HASH_SCHEMA)
    entity = twin.check_space(name, lambda space: space.entity(), "entity")
    pids = [partition["id"] for partition in entity["partitions"]]
    assert len(pids) == 3
    rng = random.Random(3)
    twin.upsert(name, numbered(rng, 0, 60))
    twin.upsert(name, numbered(rng, 60, 15), partitions=[pids[1]])
    twin.upsert(name, numbered(rng, 75, 15), partitions=[str(pids[0]), str(pids[2])])
    described = twin.check_space(name, lambda space: space.describe(), "describe")
    assert all(entry["doc_num"] > 0 for entry in described["partitions"])

    every = {"operator": "AND", "conditions": [{"field": "n", "operator": ">=", "value": 0}]}
    for pid in pids:
        twin.check_space(
            name,
            lambda space, pid=pid: space.query(filters=every, partition_id=pid, limit=100),
            f"query partition {pid}",
        )
    ids = ["n3", "n61", "missing", "n80", "n3"]
    twin.check_space(
        name, lambda space: space.query(document_ids=ids, get_by_hash=True), "get_by_hash"
    )
    twin.check_space(
        name,
        lambda space: space.query(document_ids=ids, partition_id=pids[1], fields=["n"]),
        "direct get from one partition",
    )
    twin.check_space(
        name,
        lambda space: space.query(document_ids=["-1", "5", "89"], partition_id=pids[1], next=True),
        "next docid",
    )
    twin.check_space(
        name,
        lambda space: space.search(
            [{"field": "emb", "feature": [0.1, 0.2, 0.3, 0.4]}], limit=5, partition_names=[""]
        ),
        "search by the empty partition name",
    )

    twin.expect_error(
        lambda db: db.get_space("demo", name).query(document_ids=ids, partition_id=999_999),
        ErrorCode.PARTITION_NOT_EXIST,
        "unknown partition id",
    )
    twin.expect_error(
        lambda db: db.get_space("demo", name).upsert(numbered(rng, 200, 1), partitions=[999_999]),
        ErrorCode.PARTITION_NOT_EXIST,
        "upsert into unknown partition",
    )
    twin.expect_error(
        lambda db: db.get_space("demo", name).query(document_ids=["1"], next=True),
        ErrorCode.PARAM_ERROR,
        "next without partition_id",
    )


def test_range_partitions_agree(twin: Twin, scratch: Callable[[dict[str, Any]], str]):
    name = scratch(RANGE_SCHEMA)
    rng = random.Random(4)
    documents = numbered(rng, 0, 90)
    for i, document in enumerate(documents):
        document["day"] = f"{2023 + i // 30}-06-{1 + i % 28:02d}T12:00:00Z"
    twin.upsert(name, documents)
    twin.check_space(name, lambda space: space.describe(), "describe")

    every = {"operator": "AND", "conditions": [{"field": "n", "operator": ">=", "value": 0}]}
    feature = [0.5, -0.5, 0.1, 0.0]
    for names in (["y2024"], ["y2023", "y2025"]):
        twin.check_space(
            name,
            lambda space, names=names: space.query(
                filters=every, partition_names=names, limit=100, sort=["n"]
            ),
            f"query {names}",
        )
        twin.check_space(
            name,
            lambda space, names=names: space.search(
                [{"field": "emb", "feature": feature}], limit=40, partition_names=names
            ),
            f"search {names}",
        )
    twin.expect_error(
        lambda db: db.get_space("demo", name).search(
            [{"field": "emb", "feature": feature}], partition_names=["y1999"]
        ),
        ErrorCode.PARAM_ERROR,
        "unknown partition name",
    )

    added = {"type": "RANGE", "ranges": [{"name": "y2026", "value": "2027-01-01"}]}
    twin.check(
        lambda db: db.update_space(
            "demo", name, {"operator_type": "ADD", "partition_rule": added}
        ).entity(),
        "ADD y2026",
    )
    late = {**numbered(rng, 100, 1)[0], "day": "2026-05-01"}
    twin.upsert(name, [late])
    twin.check_space(
        name, lambda space: space.query(document_ids=["n100"], partition_names=["y2026"]), "y2026"
    )
    twin.check(
        lambda db: db.update_space(
            "demo", name, {"operator_type": "DROP", "partition_name": "y2024"}
        ).describe(),
        "DROP y2024",
    )
    twin.check_space(name, lambda space: space.query(filters=every, limit=100), "after DROP")
    twin.expect_error(
        lambda db: db.update_space("demo", name, {"operator_type": "DROP", "partition_name": "x"}),
        ErrorCode.PARAM_ERROR,
        "DROP unknown",
    )


# Vector index training and maintenance.

IVF_DIMENSION = 8
IVF_CENTROIDS = 8
IVF_SCHEMA = {
    "name": "trained",
    "replica_num": 1,
    "refresh_interval": 20,
    "fields": [
        scalar("n", "integer"),
        {
            "name": "emb",
            "type": "vector",
            "dimension": IVF_DIMENSION,
            "index": {
                "name": "emb_index",
                "type": "IVFFLAT",
                "params": {
                    "metric_type": "L2",
                    "ncentroids": IVF_CENTROIDS,
                    "training_threshold": 256,
                },
            },
        },
    ],
}


def compare_ivf_searches(twin: Twin, name: str, where: str) -> None:
    """Compare searches that probe every centroid, so both sides search exactly."""
    rng = random.Random(len(where))
    features = [rng.uniform(-3, 3) for _ in range(IVF_DIMENSION * 4)]
    exact = {"nprobe": IVF_CENTROIDS}
    hits = twin.check_space(
        name,
        lambda space: space.search(
            [{"field": "emb", "feature": features}], limit=10, index_params=exact, fields=["n"]
        ),
        f"{where}: search",
    )
    brute = twin.embedded.get_space("demo", name).search(
        [{"field": "emb", "feature": features}], limit=10, is_brute_search=1, fields=["n"]
    )
    assert_same(brute, hits, f"{where}: nprobe = ncentroids is exact")
    odd = {"operator": "AND", "conditions": [{"field": "n", "operator": ">", "value": 200}]}
    twin.check_space(
        name,
        lambda space: space.search(
            [{"field": "emb", "feature": features[:IVF_DIMENSION]}],
            filters=odd,
            limit=20,
            index_params=exact,
        ),
        f"{where}: filtered search",
    )


def test_ivfflat_training_and_maintenance_agree(
    twin: Twin, scratch: Callable[[dict[str, Any]], str]
):
    name = scratch(IVF_SCHEMA)
    rng = random.Random(8)
    documents = [
        {"_id": f"v{i}", "n": i, "emb": [rng.gauss(i % 4, 1) for _ in range(IVF_DIMENSION)]}
        for i in range(400)
    ]
    for start in range(0, len(documents), 100):
        twin.upsert(name, documents[start : start + 100])
    twin.wait_indexed(name, 400)
    twin.check_space(name, lambda space: space.index_progress(), "index_progress")
    twin.check_space(name, lambda space: space.describe(), "describe trained")
    twin.check_space(name, lambda space: space.indexes_info(detail=True), "indexes trained")
    compare_ivf_searches(twin, name, "trained")

    twin.check_space(name, lambda space: space.rebuild_index(drop_before_rebuild=True), "rebuild")
    twin.wait_indexed(name, 400)
    compare_ivf_searches(twin, name, "rebuilt")

    twin.check_space(
        name, lambda space: space.delete(document_ids=[f"v{i}" for i in range(0, 400, 3)]), "del"
    )
    twin.check_space(name, lambda space: space.forcemerge(), "forcemerge")
    twin.wait_indexed(name, 266)
    twin.check_space(name, lambda space: space.describe(), "describe merged")
    compare_ivf_searches(twin, name, "merged")

    twin.expect_error(
        lambda db: db.get_space("demo", name).forcemerge(partition_id=999_999),
        ErrorCode.PARAM_ERROR,
        "forcemerge unknown partition",
    )


def test_indexes_add_remove_agree(twin: Twin, scratch: Callable[[dict[str, Any]], str]):
    name = scratch(PRODUCTS_SCHEMA)
    fill_products(twin, name, 60, seed=21)
    about = {
        "operator": "AND",
        "conditions": [{"field": "note", "operator": "IN", "value": ["item 4", "item 7"]}],
    }
    query = lambda db: db.get_space("demo", name).query(filters=about)  # noqa: E731
    twin.expect_error(query, ErrorCode.PARAM_ERROR, "filter on an unindexed field")

    note_index = {"name": "note_idx", "type": "INVERTED", "field_name": "note"}
    twin.check(lambda db: db.add_indexes("demo", name, [note_index]), "add_indexes")
    twin.check_space(name, lambda space: space.indexes_info(), "indexes after add")
    found = twin.check(query, "filter on the new index")
    assert sorted(document["note"] for document in found) == ["item 4", "item 7"]
    twin.expect_error(
        lambda db: db.add_indexes("demo", name, [note_index]),
        ErrorCode.PARAM_ERROR,
        "add the same index again",
    )

    twin.check(lambda db: db.remove_index("demo", name, "note_idx"), "remove_index")
    twin.check_space(name, lambda space: space.describe(), "describe after remove")
    twin.expect_error(query, ErrorCode.PARAM_ERROR, "filter after remove")
    twin.expect_error(
        lambda db: db.remove_index("demo", name, "note_idx"),
        ErrorCode.PARAM_ERROR,
        "remove a missing index",
    )


# Errors.

BAD_CALLS: list[tuple[str, Callable[[Any], Any], ErrorCode]] = [
    ("database exists", lambda db: db.create_database("demo"), ErrorCode.DB_EXIST),
    ("invalid database name", lambda db: db.create_database("1demo"), ErrorCode.PARAM_ERROR),
    ("database missing", lambda db: db.describe_database("nope"), ErrorCode.DB_NOT_EXIST),
    ("database not empty", lambda db: db.drop_database("demo"), ErrorCode.DB_NOT_EMPTY),
    ("space missing", lambda db: db.get_space("demo", "nope"), ErrorCode.SPACE_NOT_EXIST),
    ("space exists", lambda db: db.create_space("demo", PRODUCTS_SCHEMA), ErrorCode.SPACE_EXIST),
    ("alias exists", lambda db: db.create_alias("best", "demo", "products"), ErrorCode.ALIAS_EXIST),
    ("alias missing", lambda db: db.get_alias("nope"), ErrorCode.ALIAS_NOT_EXIST),
    ("drop alias missing", lambda db: db.drop_alias("never"), ErrorCode.ALIAS_NOT_EXIST),
    (
        "alias of missing space",
        lambda db: db.create_alias("ghost", "demo", "nope"),
        ErrorCode.SPACE_NOT_EXIST,
    ),
    ("resolve missing", lambda db: db.resolve_space("demo", "nope"), ErrorCode.SPACE_NOT_EXIST),
    (
        "resolve alias of other db",
        lambda db: db.resolve_space("nowhere", "best"),
        ErrorCode.DB_NOT_EXIST,
    ),
    (
        "space without vector",
        lambda db: db.create_space("demo", {"name": "bare", "fields": [scalar("n", "integer")]}),
        ErrorCode.PARAM_ERROR,
    ),
]


@pytest.mark.parametrize(("case", "call", "code"), BAD_CALLS, ids=[c[0] for c in BAD_CALLS])
def test_engine_errors_agree(
    twin: Twin, best_alias: str, case: str, call: Callable[[Any], Any], code: ErrorCode
):
    twin.expect_error(call, code, case)


VECTOR = [0.1] * 8
BAD_DOCUMENT_CALLS: list[tuple[str, Callable[[Any], Any], ErrorCode]] = [
    (
        "upsert unknown field",
        lambda s: s.upsert([{"_id": "x", "nope": 1}]),
        ErrorCode.UPSERT_INVALID_PARAMS,
    ),
    (
        "upsert new without vector",
        lambda s: s.upsert([{"_id": "new-one", "year": 2000}]),
        ErrorCode.UPSERT_INVALID_PARAMS,
    ),
    (
        "upsert wrong dimension",
        lambda s: s.upsert([{"_id": "x", "emb": [0.1, 0.2]}]),
        ErrorCode.UPSERT_INVALID_PARAMS,
    ),
    (
        "upsert null",
        lambda s: s.upsert([{"_id": "x", "year": None}]),
        ErrorCode.UPSERT_INVALID_PARAMS,
    ),
    (
        "query ids and filter",
        lambda s: s.query(
            ["p1"],
            {"operator": "AND", "conditions": [{"field": "year", "operator": ">", "value": 1}]},
        ),
        ErrorCode.QUERY_INVALID_PARAMS_BOTH_DOCUMENT_IDS_AND_FILTER,
    ),
    (
        "query neither",
        lambda s: s.query(),
        ErrorCode.QUERY_INVALID_PARAMS_SHOULD_HAVE_ONE_OF_DOCUMENT_IDS_OR_FILTER,
    ),
    (
        "query 500 ids",
        lambda s: s.query([f"p{i}" for i in range(500)]),
        ErrorCode.QUERY_INVALID_PARAMS_LENGTH_OF_DOCUMENT_IDS_BEYOND_500,
    ),
    (
        "delete ids and filter",
        lambda s: s.delete(
            ["p1"],
            {"operator": "AND", "conditions": [{"field": "year", "operator": ">", "value": 1}]},
        ),
        ErrorCode.DELETE_INVALID_PARAMS_BOTH_DOCUMENT_IDS_AND_FILTER,
    ),
    (
        "delete neither",
        lambda s: s.delete(),
        ErrorCode.DELETE_INVALID_PARAMS_SHOULD_HAVE_ONE_OF_DOCUMENT_IDS_OR_FILTER,
    ),
    (
        "delete 500 ids",
        lambda s: s.delete([f"p{i}" for i in range(500)]),
        ErrorCode.DELETE_INVALID_PARAMS_LENGTH_OF_DOCUMENT_IDS_BEYOND_500,
    ),
    (
        "search no vectors",
        lambda s: s.search([]),
        ErrorCode.SEARCH_INVALID_PARAMS_SHOULD_HAVE_VECTOR_FIELD,
    ),
    (
        "search limit 0",
        lambda s: s.search([{"field": "emb", "feature": VECTOR}], limit=0),
        ErrorCode.PARAM_ERROR,
    ),
    (
        "search unknown return field",
        lambda s: s.search([{"field": "emb", "feature": VECTOR}], fields=["nope"]),
        ErrorCode.PARAM_ERROR,
    ),
    (
        "filter operator",
        lambda s: s.query(filters={"operator": "XOR", "conditions": []}),
        ErrorCode.FILTER_OPERATOR_TYPE_ERR,
    ),
    (
        "condition operator",
        lambda s: s.query(
            filters={
                "operator": "AND",
                "conditions": [{"field": "year", "operator": "LIKE", "value": 1}],
            }
        ),
        ErrorCode.FILTER_CONDITION_OPERATOR_TYPE_ERR,
    ),
    (
        "IN on integer",
        lambda s: s.query(
            filters={
                "operator": "AND",
                "conditions": [{"field": "year", "operator": "IN", "value": ["1"]}],
            }
        ),
        ErrorCode.PARAM_ERROR,
    ),
    (
        "range on string",
        lambda s: s.query(
            filters={
                "operator": "AND",
                "conditions": [{"field": "color", "operator": ">", "value": 1}],
            }
        ),
        ErrorCode.PARAM_ERROR,
    ),
    (
        "invalid date",
        lambda s: s.query(
            filters={
                "operator": "AND",
                "conditions": [{"field": "sold", "operator": ">", "value": "yesterday"}],
            }
        ),
        ErrorCode.PARAM_ERROR,
    ),
]


@pytest.mark.parametrize(
    ("case", "call", "code"), BAD_DOCUMENT_CALLS, ids=[c[0] for c in BAD_DOCUMENT_CALLS]
)
def test_document_errors_agree(
    twin: Twin, products: str, case: str, call: Callable[[Any], Any], code: ErrorCode
):
    twin.expect_error(lambda db: call(db.get_space("demo", products)), code, case)
