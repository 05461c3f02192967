from qiao.knowledge.chunk_store import StoredChunk
from qiao.knowledge.citations import attribute, strip_markers
from qiao.knowledge.extractive import extract_answer
from qiao.knowledge.prompt import build_messages, is_refusal
from qiao.knowledge.retriever import Hit

PALACE = (
    "地址：北京市东城区景山前街4号\n门票：旺季60元，淡季40元。参观珍宝馆、钟表馆各需另外收费10元。\n"
    "开放时间：旺季8:30-17:00，周一不开放。"
)
SUMMER = "地址：北京市海淀区新建宫门路19号\n门票：旺季30元，淡季20元。\n建议游玩时间：3-4小时"


def make_hit(rank: int, doc_id: str, title: str, text: str) -> Hit:
    chunk = StoredChunk(
        id=f"{doc_id}-0",
        doc_id=doc_id,
        file=f"/data/{doc_id}.md",
        source=f"/data/{doc_id}.md",
        title=title,
        heading=title,
        text=text,
        start=0,
        end=len(text),
        chunk_index=0,
    )
    return Hit(chunk=chunk, score=1 / (60 + rank), rank=rank, dense_score=0.85)


HITS = [make_hit(1, "TRV-0624", "故宫", PALACE), make_hit(2, "TRV-1107", "颐和园", SUMMER)]


def test_strip_markers_variants():
    text, found = strip_markers("门票60元[1]。开放[资料2]，【3】还有[1, 2]。")
    assert text == "门票60元。开放，还有。"
    assert found == [[1], [2], [3], [1, 2]]


def test_attribute_cites_supporting_passage():
    cited = attribute("故宫门票旺季60元，淡季40元。", HITS)
    assert cited.text == "故宫门票旺季60元，淡季40元[1]。"
    assert len(cited.citations) == 1
    assert cited.citations[0].doc_id == "TRV-0624"
    assert "60元" in cited.citations[0].snippet
    assert cited.supported_share == 1.0


def test_attribute_renumbers_by_first_use():
    cited = attribute("颐和园门票旺季30元，淡季20元[1]。故宫门票旺季60元[2]。", HITS)
    assert cited.text == "颐和园门票旺季30元，淡季20元[1]。故宫门票旺季60元[2]。"
    assert [c.doc_id for c in cited.citations] == ["TRV-1107", "TRV-0624"]
    assert [c.index for c in cited.citations] == [1, 2]


def test_attribute_drops_marker_pointing_nowhere():
    cited = attribute("天安门广场很大[7]。", HITS)
    assert "[7]" not in cited.text
    assert cited.citations == []
    assert cited.supported_share == 0.0


def test_attribute_marker_alone_keeps_hint():
    cited = attribute("门票要60元。[1]", HITS)
    assert cited.text == "门票要60元[1]。"
    assert cited.citations[0].doc_id == "TRV-0624"


def test_extract_answer_picks_ticket_line():
    answer = extract_answer("故宫的门票多少钱？", HITS)
    assert "60元" in answer
    assert "景山前街" not in answer


def test_extract_answer_without_overlap():
    assert extract_answer("？？", HITS) == ""


def test_prompt_numbers_passages():
    messages = build_messages("故宫的门票多少钱？", HITS)
    assert messages[0]["role"] == "system"
    assert "[1] 故宫\n" in messages[1]["content"]
    assert "[2] 颐和园" in messages[1]["content"]
    assert messages[1]["content"].endswith("问题：故宫的门票多少钱？")


def test_is_refusal_phrases():
    assert is_refusal("知识库中没有找到相关内容。")
    assert is_refusal("抱歉，资料中没有提到这个问题。")
    assert not is_refusal("故宫门票旺季60元[1]。")


def test_echoed_question_is_detected():
    from qiao.knowledge.answer import echoes_question

    assert echoes_question("故宫几点开门？故宫", "故宫几点开门？")
    assert echoes_question("", "故宫几点开门？")
    assert not echoes_question("故宫旺季8:30-17:00开放，周一不开放。", "故宫几点开门？")
    assert not echoes_question(
        "八达岭长城建议游玩多长时间：3小时 - 4小时", "八达岭长城建议游玩多长时间？"
    )
