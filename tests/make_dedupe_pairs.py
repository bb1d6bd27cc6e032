"""Writes tests/dedupe_pairs.jsonl: the labelled headline pairs for near-duplicate detection.

    python tests/make_dedupe_pairs.py

Each line: {"a", "b", "same": bool, "kind", "lang", "split": "dev"|"test"}. Kinds:

* positives: ``cut`` (a list or sidebar headline cut with "..."/"…" at another length),
  ``tag`` (a source tag or label added: 【人民日报】, [视频], "快讯:", "UPDATE:"), ``tag+cut``,
  ``variant`` (Traditional characters, full-width forms, other punctuation or case),
  ``reword`` (the same story reworded by another site: hand-written);
* hard negatives: ``template`` (the same template with another company, code, place or number:
  "股市必读:甘肃能源(000791)..." / "股市必读:中煤能源(601898)..."), ``reword-neg`` (hand-written
  look-alikes that are other stories);
* easy negatives: ``unrelated`` (two headlines from the base lists).

The material is written by hand below; the transformations are mechanical and seeded, so the file
is the same on every run. Pairs are shuffled and split 50/50 into dev and test within each kind
and language: thresholds are chosen on dev only (tests/test_dedupe_pairs.py reports both).
"""

# ruff: noqa: E501 (the hand-written headline pairs read best one pair a line)
from __future__ import annotations

import json
import random
from pathlib import Path

OUT = Path(__file__).resolve().parent / "dedupe_pairs.jsonl"

ZH = """\
国家能源局发布2026年能源工作指导意见
全国多地开展《可再生能源法》宣传教育活动
多晶硅期货价格连续三周走高 致密料报价站上每吨5.6万元
分布式光伏新规落地满月：工商业项目“自发自用”比例成新焦点
河北省2026年第一批集中式光伏竞争性配置结果公示
1月逆变器出口数据出炉：欧洲市场回暖 中东增长强劲
江苏一200MW/400MWh独立储能电站全容量并网
国家发展改革委印发《关于深化新能源上网电价市场化改革的通知》
我国首个深远海漂浮式风电示范项目实现并网发电
内蒙古库布其沙漠鄂尔多斯中北部新能源基地项目开工
全球最大单体光热电站在青海海西完成首次并网
南方电网启动新型电力系统示范区建设
国家电网2026年计划投资超过6500亿元
氢能产业发展中长期规划实施情况评估报告发布
首批绿电绿证交易试点扩围至全国
新疆哈密特高压直流输电工程全线贯通
锂电池碳酸锂价格跌破每吨7万元关口
光伏组件招标价格创历史新低 行业呼吁理性竞争
海上风电平价时代来临 整机厂商加速大型化
中国石化建成全国最大光伏绿氢生产项目
全国碳市场扩容方案征求意见 钢铁水泥铝冶炼将纳入
浙江出台虚拟电厂建设三年行动方案
国内首台百万千瓦级水轮发电机组投产
山东海阳核电3号机组主体工程开工
抽水蓄能中长期发展规划调整 新增项目超过200个
三峡集团乌兰察布源网荷储一体化项目首批机组并网
光伏治沙模式在宁夏腾格里沙漠推广
储能行业标准体系建设指南正式印发
充电基础设施建设提速 公共充电桩数量突破300万台
天然气管网互联互通工程年内建成投运
钙钛矿叠层电池转换效率再创世界纪录
全国首个县域零碳示范园区通过验收
煤电容量电价机制运行一年 保障作用逐步显现
国家能源局通报2025年可再生能源发电并网运行情况
广东电力现货市场转入正式运行
西北地区弃风弃光率降至历史最低水平
全国统一电力市场体系建设实施方案发布
大型风电光伏基地第三批项目清单下达
新能源汽车下乡活动启动 充换电服务网络同步完善
我国可再生能源装机规模突破20亿千瓦
电解水制氢设备出货量同比翻番
海南博鳌零碳示范区建设取得阶段性成果
特高压交流工程累计输送清洁电量突破千亿千瓦时
分散式风电开发管理办法征求意见
户用光伏并网新规实施 安全要求全面升级
全球能源转型投资首次突破两万亿美元
风电叶片回收利用技术取得突破
国内首座兆瓦级氢燃料电池发电站投运
青海海南州千万千瓦级新能源基地建成
电网企业代理购电价格公布 工商业电价小幅下调
长江流域首个岸电全覆盖港口群建成
光伏玻璃产能过剩 龙头企业主动减产
新型储能装机规模跃居世界首位
东北地区清洁取暖改造工程完成年度目标
西藏首个光储一体化项目并网发电
国家能源局开展电力安全生产专项督查
海上光伏项目用海管理规定出台
生物质发电补贴退坡 行业探索市场化路径
抽水蓄能电站建设用地审批流程简化
首个跨省绿电交易直通车在长三角开通
""".splitlines()

# Hand-written: the same story as another site headlined it.
ZH_REWORD = [
    ("国家能源局发布2026年能源工作指导意见", "国家能源局印发2026年能源工作指导意见"),
    ("国家能源局发布2026年能源工作指导意见", "国家能源局：2026年能源工作指导意见发布"),
    ("江苏一200MW/400MWh独立储能电站全容量并网", "江苏200MW/400MWh独立储能电站实现全容量并网"),
    ("我国首个深远海漂浮式风电示范项目实现并网发电", "我国首个深远海漂浮式风电示范项目并网发电"),
    ("全球最大单体光热电站在青海海西完成首次并网", "全球最大单体光热电站青海海西首次并网"),
    ("南方电网启动新型电力系统示范区建设", "南方电网正式启动新型电力系统示范区建设"),
    ("国家电网2026年计划投资超过6500亿元", "国家电网2026年计划投资超6500亿元"),
    ("首批绿电绿证交易试点扩围至全国", "绿电绿证交易试点扩围至全国"),
    ("新疆哈密特高压直流输电工程全线贯通", "新疆哈密特高压直流工程全线贯通"),
    ("锂电池碳酸锂价格跌破每吨7万元关口", "碳酸锂价格跌破每吨7万元关口"),
    ("光伏组件招标价格创历史新低 行业呼吁理性竞争", "光伏组件招标价格创新低 行业呼吁理性竞争"),
    ("中国石化建成全国最大光伏绿氢生产项目", "中国石化建成我国最大光伏绿氢生产项目"),
    ("浙江出台虚拟电厂建设三年行动方案", "浙江印发虚拟电厂建设三年行动方案"),
    ("山东海阳核电3号机组主体工程开工", "山东海阳核电3号机组主体工程正式开工"),
    ("储能行业标准体系建设指南正式印发", "储能行业标准体系建设指南印发"),
    ("钙钛矿叠层电池转换效率再创世界纪录", "钙钛矿叠层电池转换效率刷新世界纪录"),
    ("广东电力现货市场转入正式运行", "广东电力现货市场正式转入运行"),
    ("我国可再生能源装机规模突破20亿千瓦", "我国可再生能源装机突破20亿千瓦"),
    ("电解水制氢设备出货量同比翻番", "电解水制氢设备出货量同比实现翻番"),
    ("风电叶片回收利用技术取得突破", "风电叶片回收利用技术取得重大突破"),
    ("国内首座兆瓦级氢燃料电池发电站投运", "国内首座兆瓦级氢燃料电池发电站正式投运"),
    ("新型储能装机规模跃居世界首位", "我国新型储能装机规模跃居世界首位"),
    ("西藏首个光储一体化项目并网发电", "西藏首个光储一体化项目成功并网发电"),
    ("海上光伏项目用海管理规定出台", "海上光伏项目用海管理规定正式出台"),
    ("国家能源局开展电力安全生产专项督查", "国家能源局启动电力安全生产专项督查"),
    ("光伏玻璃产能过剩 龙头企业主动减产", "光伏玻璃产能过剩龙头企业主动减产"),
    ("抽水蓄能电站建设用地审批流程简化", "抽水蓄能电站建设用地审批流程进一步简化"),
    ("全国首个县域零碳示范园区通过验收", "全国首个县域零碳示范园区顺利通过验收"),
    ("长江流域首个岸电全覆盖港口群建成", "长江流域首个岸电全覆盖港口群建成投用"),
    ("天然气管网互联互通工程年内建成投运", "天然气管网互联互通工程将于年内建成投运"),
]

# Hand-written: alike, but other stories.
ZH_REWORD_NEG = [
    ("国家能源局发布2026年能源工作指导意见", "国家能源局发布2025年能源工作指导意见"),
    ("江苏一200MW/400MWh独立储能电站全容量并网", "江苏一100MW/200MWh独立储能电站全容量并网"),
    ("江苏一200MW/400MWh独立储能电站全容量并网", "浙江一200MW/400MWh独立储能电站全容量并网"),
    ("山东海阳核电3号机组主体工程开工", "山东海阳核电4号机组主体工程开工"),
    ("国家电网2026年计划投资超过6500亿元", "南方电网2026年计划投资超过1700亿元"),
    (
        "河北省2026年第一批集中式光伏竞争性配置结果公示",
        "河北省2026年第二批集中式光伏竞争性配置结果公示",
    ),
    ("大型风电光伏基地第三批项目清单下达", "大型风电光伏基地第二批项目清单下达"),
    (
        "1月逆变器出口数据出炉：欧洲市场回暖 中东增长强劲",
        "2月逆变器出口数据出炉：欧洲市场回暖 中东增长强劲",
    ),
    ("我国可再生能源装机规模突破20亿千瓦", "我国可再生能源装机规模突破18亿千瓦"),
    ("国内首台百万千瓦级水轮发电机组投产", "国内首台百万千瓦级水轮发电机组吊装"),
    ("西藏首个光储一体化项目并网发电", "青海首个光储一体化项目并网发电"),
    ("广东电力现货市场转入正式运行", "山西电力现货市场转入正式运行"),
    ("海上风电平价时代来临 整机厂商加速大型化", "陆上风电平价时代来临 整机厂商加速大型化"),
    (
        "三峡集团乌兰察布源网荷储一体化项目首批机组并网",
        "华能集团乌兰察布源网荷储一体化项目首批机组并网",
    ),
    ("中国石化建成全国最大光伏绿氢生产项目", "中国石油建成全国最大光伏绿氢生产项目"),
    ("浙江出台虚拟电厂建设三年行动方案", "上海出台虚拟电厂建设三年行动方案"),
    ("新疆哈密特高压直流输电工程全线贯通", "甘肃陇东特高压直流输电工程全线贯通"),
    ("锂电池碳酸锂价格跌破每吨7万元关口", "锂电池碳酸锂价格跌破每吨8万元关口"),
    ("首个跨省绿电交易直通车在长三角开通", "首个跨省绿电交易直通车在粤港澳开通"),
    ("东北地区清洁取暖改造工程完成年度目标", "华北地区清洁取暖改造工程完成年度目标"),
]

COMPANIES = [
    ("甘肃能源", "000791"), ("中煤能源", "601898"), ("隆基绿能", "601012"), ("通威股份", "600438"),
    ("阳光电源", "300274"), ("宁德时代", "300750"), ("金风科技", "002202"), ("明阳智能", "601615"),
    ("晶科能源", "688223"), ("天合光能", "688599"), ("中国核电", "601985"), ("长江电力", "600900"),
    ("华能国际", "600011"), ("国电南瑞", "600406"), ("亿纬锂能", "300014"), ("TCL中环", "002129"),
]  # fmt: skip
PATENTS = [
    "一种太阳能电池及其制备方法", "一种储能电池热管理系统", "一种风电机组叶片除冰装置",
    "一种光伏组件清洗机器人", "一种逆变器并网控制方法", "一种氢燃料电池双极板",
]  # fmt: skip
PLACES = ["江苏", "广东", "内蒙古", "新疆", "青海", "甘肃", "山东", "河北", "宁夏", "云南"]
ZH_TEMPLATES = [
    "股市必读：{c}（{code}）{m}月{d}日主力资金净流出{n}万元",
    "{c}获得发明专利授权：{patent}",
    "{c}：2025年净利润同比增长{pct}%",
    "{c}中标{place}{mw}MW风电项目",
    "{place}{mw}MW光伏项目全容量并网",
    "国家能源局：{m}月全国新增光伏装机{gw}GW",
    "{m}月{d}日光伏组件价格行情",
    "{c}（{code}）股价涨停 收盘报{price}元",
    "{c}发布公告：拟投资{n}亿元建设{place}储能项目",
    "{place}发布第{k}批新能源项目开发建设方案",
]

EN = """\
US solar installations hit a record in the third quarter
Spain sets new solar generation record as prices fall
Germany approves offshore wind auction design for 2027
China's wind and solar capacity overtakes coal for the first time
EIA expects natural gas prices to rise this winter
Battery storage additions in Texas outpace new gas plants
UK launches consultation on grid connection reforms
India tenders 10 GW of hybrid renewable capacity
Global energy transition investment tops $2 trillion
Offshore wind developer cancels New Jersey project
Perovskite tandem cell efficiency reaches new world record
Australia's rooftop solar fleet passes 4 million homes
Hydrogen electrolyser orders double in Europe
Coal use in US power sector falls to lowest level in decades
Crude oil inventories drop for a fourth straight week
California grid runs on 100% renewables for a record stretch
Vietnam unveils new power development plan with more LNG
Saudi Arabia signs deal for giant solar and storage complex
Heat pump sales slump across Europe
Nuclear restart plan approved for Michigan plant
Brazil auctions transmission lines worth $4 billion
Polysilicon prices hit rock bottom as factories cut output
EU carbon price climbs above 90 euros a tonne
Japan picks winners for third offshore wind round
Chile's green hydrogen hub secures first financing
South Africa ends load shedding after a year of stability
Texas grid operator warns of tight supply during heat wave
World Bank backs mini-grid program in Nigeria
Floating solar farm opens on reservoir in Indonesia
Canada sets clean electricity regulations for 2035
""".splitlines()

EN_REWORD = [
    ("US solar installations hit a record in the third quarter", "US solar installations hit record in third quarter"),
    ("Spain sets new solar generation record as prices fall", "Spain sets new solar generation record as power prices fall"),
    ("Germany approves offshore wind auction design for 2027", "Germany approves new offshore wind auction design for 2027"),
    ("EIA expects natural gas prices to rise this winter", "EIA expects natural gas prices to rise over the winter"),
    ("Battery storage additions in Texas outpace new gas plants", "Battery storage additions in Texas outpace gas plants"),
    ("UK launches consultation on grid connection reforms", "UK launches a consultation on grid connection reforms"),
    ("India tenders 10 GW of hybrid renewable capacity", "India tenders 10 GW of hybrid renewable energy capacity"),
    ("Offshore wind developer cancels New Jersey project", "Offshore wind developer cancels its New Jersey project"),
    ("Perovskite tandem cell efficiency reaches new world record", "Perovskite tandem cell efficiency reaches a new world record"),
    ("Hydrogen electrolyser orders double in Europe", "Hydrogen electrolyzer orders double in Europe"),
    ("Crude oil inventories drop for a fourth straight week", "Crude oil inventories drop for fourth straight week"),
    ("Heat pump sales slump across Europe", "Heat pump sales slump across Europe in 2026"),
    ("Nuclear restart plan approved for Michigan plant", "Nuclear restart plan approved for Michigan power plant"),
    ("Polysilicon prices hit rock bottom as factories cut output", "Polysilicon prices hit bottom as factories cut output"),
    ("Japan picks winners for third offshore wind round", "Japan picks the winners for its third offshore wind round"),
    ("Texas grid operator warns of tight supply during heat wave", "Texas grid operator warns of tight power supply during heat wave"),
    ("Floating solar farm opens on reservoir in Indonesia", "Floating solar farm opens on a reservoir in Indonesia"),
    ("Canada sets clean electricity regulations for 2035", "Canada sets its clean electricity regulations for 2035"),
    ("World Bank backs mini-grid program in Nigeria", "World Bank backs mini-grid programme in Nigeria"),
    ("Coal use in US power sector falls to lowest level in decades", "Coal use in US power sector falls to its lowest level in decades"),
]  # fmt: skip

EN_REWORD_NEG = [
    ("US solar installations hit a record in the third quarter", "US solar installations hit a record in the second quarter"),
    ("Germany approves offshore wind auction design for 2027", "Germany approves offshore wind auction design for 2026"),
    ("India tenders 10 GW of hybrid renewable capacity", "India tenders 5 GW of hybrid renewable capacity"),
    ("Offshore wind developer cancels New Jersey project", "Offshore wind developer cancels Maryland project"),
    ("Spain sets new solar generation record as prices fall", "Portugal sets new solar generation record as prices fall"),
    ("Japan picks winners for third offshore wind round", "Japan picks winners for fourth offshore wind round"),
    ("Nuclear restart plan approved for Michigan plant", "Nuclear restart plan approved for Pennsylvania plant"),
    ("Brazil auctions transmission lines worth $4 billion", "Brazil auctions transmission lines worth $3 billion"),
    ("EU carbon price climbs above 90 euros a tonne", "EU carbon price climbs above 80 euros a tonne"),
    ("Texas grid operator warns of tight supply during heat wave", "California grid operator warns of tight supply during heat wave"),
]  # fmt: skip

EN_COMPANIES = ["Tesla", "Fluence", "NextEra", "Orsted", "Vestas", "Siemens Gamesa", "First Solar", "Enphase"]  # fmt: skip
EN_PLACES = ["Texas", "Arizona", "Nevada", "Queensland", "Ontario", "Bavaria", "Scotland", "Chile"]
EN_TEMPLATES = [
    "{c} wins {mw} MW solar contract in {place}",
    "{c} third-quarter profit rises {pct}%",
    "{c} to build {mw} MW battery storage project in {place}",
    "{c} shares jump {pct}% after earnings beat",
    "US added {gw} GW of solar capacity in Q{q}",
]

TAGS_ZH = ["【人民日报】", "[视频]", "【独家】", "〔快讯〕", "(图)", "【新华社】"]
TAGS_EN = ["[Video] ", "[Updated] ", "(Photos) "]
T2S_SAMPLE = str.maketrans(
    "国发电网开风项资业价产储气时长点专权营运据万亿区场机组规划设装际级动实现进对将过后无经济环节约",
    "國發電網開風項資業價產儲氣時長點專權營運據萬億區場機組規劃設裝際級動實現進對將過後無經濟環節約",
)
FULLWIDTH = str.maketrans("0123456789:%()/,", "０１２３４５６７８９：％（）／，")


def cut(rng: random.Random, text: str, latin: bool) -> str:
    """A list headline cut with a marker at 55-85% of its length (at least 9 characters)."""
    if latin:
        end = max(24, int(len(text) * rng.uniform(0.6, 0.85)))
    else:
        end = max(9, int(len(text) * rng.uniform(0.55, 0.85)))
    return text[:end].rstrip() + rng.choice(["...", "…", "……"])


def fill(rng: random.Random, template: str, values: dict[str, str]) -> str:
    return template.format(**values)


def zh_values(rng: random.Random) -> dict[str, str]:
    name, code = rng.choice(COMPANIES)
    return {
        "c": name,
        "code": code,
        "m": str(rng.randint(1, 12)),
        "d": str(rng.randint(1, 28)),
        "n": str(rng.randint(100, 9999)),
        "patent": rng.choice(PATENTS),
        "pct": str(rng.randint(3, 90)),
        "place": rng.choice(PLACES),
        "mw": str(rng.choice([50, 100, 150, 200, 300, 500, 800, 1000])),
        "gw": str(round(rng.uniform(1, 40), 1)),
        "price": f"{rng.uniform(3, 200):.2f}",
        "k": str(rng.randint(1, 6)),
    }


def en_values(rng: random.Random) -> dict[str, str]:
    return {
        "c": rng.choice(EN_COMPANIES),
        "mw": str(rng.choice([100, 150, 200, 250, 400, 600])),
        "place": rng.choice(EN_PLACES),
        "pct": str(rng.randint(3, 40)),
        "gw": str(round(rng.uniform(2, 15), 1)),
        "q": str(rng.randint(1, 4)),
    }


def alter(rng: random.Random, values: dict[str, str], keys: list[str], zh: bool) -> dict[str, str]:
    """The same slots with one of them changed (a company keeps its own code)."""
    other = dict(values)
    fresh = zh_values(rng) if zh else en_values(rng)
    while True:
        slot = rng.choice(keys)
        if fresh[slot] != values[slot]:
            break
        fresh = zh_values(rng) if zh else en_values(rng)
    other[slot] = fresh[slot]
    if slot == "c" and zh:
        other["code"] = fresh["code"]
    if slot == "code":
        other["c"] = fresh["c"]
    return other


def pairs() -> list[dict[str, object]]:
    rng = random.Random(20261201)
    out: list[dict[str, object]] = []

    def add(a: str, b: str, same: bool, kind: str, lang: str) -> None:
        if a != b:
            out.append({"a": a, "b": b, "same": same, "kind": kind, "lang": lang})

    for text in ZH:
        add(cut(rng, text, False), text, True, "cut", "zh")
    for text in rng.sample(ZH, 30):
        add(rng.choice(TAGS_ZH) + text, text, True, "tag", "zh")
    for text in rng.sample(ZH, 15):
        add(rng.choice(TAGS_ZH) + cut(rng, text, False), text, True, "tag+cut", "zh")
    for text in rng.sample(ZH, 25):
        variant = text.translate(T2S_SAMPLE)
        if variant == text:
            variant = text.translate(FULLWIDTH)
        if variant == text:
            variant = text.replace(" ", "，") if " " in text else text + "！"
        add(variant, text, True, "variant", "zh")
    for a, b in ZH_REWORD:
        add(a, b, True, "reword", "zh")
    for a, b in ZH_REWORD_NEG:
        add(a, b, False, "reword-neg", "zh")

    for text in EN:
        add(cut(rng, text, True), text, True, "cut", "en")
    for text in rng.sample(EN, 12):
        add(rng.choice(TAGS_EN) + text, text, True, "tag", "en")
    for text in rng.sample(EN, 12):
        add(text.upper() if rng.random() < 0.5 else text.title() + ".", text, True, "variant", "en")
    for a, b in EN_REWORD:
        add(a, b, True, "reword", "en")
    for a, b in EN_REWORD_NEG:
        add(a, b, False, "reword-neg", "en")

    for template in ZH_TEMPLATES:
        keys = [k for k in ("c", "code", "m", "d", "n", "pct", "place", "mw", "gw", "price", "k")
                if "{" + k + "}" in template]  # fmt: skip
        for _ in range(14):
            values = zh_values(rng)
            a = fill(rng, template, values)
            b = fill(rng, template, alter(rng, values, keys, True))
            if rng.random() < 0.25:
                # Cut only after the slot that differs: a headline cut before it could be either.
                differs = next(i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y)
                shorter = cut(rng, a, False)
                if len(shorter.rstrip(".…")) > differs + 3:
                    a = shorter
            add(a, b, False, "template", "zh")
    for template in EN_TEMPLATES:
        keys = [k for k in ("c", "mw", "place", "pct", "gw", "q") if "{" + k + "}" in template]
        for _ in range(8):
            values = en_values(rng)
            add(
                fill(rng, template, values),
                fill(rng, template, alter(rng, values, keys, False)),
                False,
                "template",
                "en",
            )

    for _ in range(40):
        a, b = rng.sample(ZH, 2)
        add(a, b, False, "unrelated", "zh")
    for _ in range(20):
        a, b = rng.sample(EN, 2)
        add(a, b, False, "unrelated", "en")

    # 50/50 dev/test within each (kind, language)
    groups: dict[tuple[object, object], list[dict[str, object]]] = {}
    for pair in out:
        groups.setdefault((pair["kind"], pair["lang"]), []).append(pair)
    for group in groups.values():
        rng.shuffle(group)
        for index, pair in enumerate(group):
            pair["split"] = "dev" if index % 2 == 0 else "test"
    return out


def main() -> None:
    rows = pairs()
    with OUT.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    same = sum(1 for r in rows if r["same"])
    hard = sum(1 for r in rows if r["kind"] in ("template", "reword-neg"))
    print(f"{OUT}: {len(rows)} pairs, {same} same, {hard} hard negatives")


if __name__ == "__main__":
    main()
