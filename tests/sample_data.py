"""Small records shared by the knowledge-base and CLI tests."""

PRODUCTS = [
    {
        "sku": "P-1001",
        "name": "青瓷茶杯",
        "body": "青瓷茶杯容量200毫升，售价88元，可以用洗碗机清洗。",
    },
    {
        "sku": "P-1002",
        "name": "竹制茶盘",
        "body": "竹制茶盘长40厘米，售价120元，请勿长时间浸泡在水中。",
    },
    {
        "sku": "P-1003",
        "name": "铸铁茶壶",
        "body": "铸铁茶壶容量1.2升，售价360元，使用后请擦干以防生锈。",
    },
]
