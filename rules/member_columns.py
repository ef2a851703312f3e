"""The member import columns: Chinese headers (the template's), English keys, allowed values."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field

from models.states import Affiliation, CardType, EmploymentStatus, Gender, IdType


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    mandatory: bool = False  # the file must have this column
    aliases: tuple[str, ...] = ()
    choices: dict[str, str] = field(default_factory=dict)  # accepted text (lower-cased) -> stored value
    allowed: tuple[str, ...] = ()  # what the template lists for the clerk
    hint: str = ""


_ETHNIC_NAMES = (
    "汉 蒙古 回 藏 维吾尔 苗 彝 壮 布依 朝鲜 满 侗 瑶 白 土家 哈尼 哈萨克 傣 黎 傈僳 佤 畲"
    " 高山 拉祜 水 东乡 纳西 景颇 柯尔克孜 土 达斡尔 仫佬 羌 布朗 撒拉 毛南 仡佬 锡伯 阿昌"
    " 普米 塔吉克 怒 乌孜别克 俄罗斯 鄂温克 德昂 保安 裕固 京 塔塔尔 独龙 鄂伦春 赫哲 门巴 珞巴 基诺"
)
ETHNICITIES = (*(f"{n}族" for n in _ETHNIC_NAMES.split()), "其他", "外国血统")
POLITICAL = ("中共党员", "中共预备党员", "共青团员", "民主党派", "无党派人士", "群众")
# One value, "高中、技校" in the seed's form: written with a slash so that a list of values joined
# by 、 does not read it as two (the old spelling is still accepted on import).
EDUCATION = ("小学", "初中", "高中/技校", "中专", "大专", "大学本科", "硕士研究生", "博士研究生", "无")
TITLES = ("初级工", "中级工", "高级工", "技师", "高级技师", "初级职称", "中级职称", "高级职称", "无")
OCCUPATIONS = ("公务员", "事业单位员工", "警察", "公司员工", "管理人员", "其他")


def _same(values: tuple[str, ...], extra: dict[str, str] | None = None) -> dict[str, str]:
    choices = {v.lower(): v for v in values}
    choices.update(extra or {})
    return choices


def _enum(labels: dict[str, str], extra: dict[str, str]) -> dict[str, str]:
    choices = {label.lower(): value for label, value in labels.items()}
    choices.update({value.lower(): value for value in labels.values()})
    choices.update(extra)
    return choices


ID_TYPE_CHOICES = {
    "居民身份证": IdType.RESIDENT_ID.value,
    "护照": IdType.PASSPORT.value,
    "港澳居民来往内地通行证": IdType.HK_MACAU_PERMIT.value,
    "台湾居民来往大陆通行证": IdType.TAIWAN_PERMIT.value,
    "外国人永久居留身份证": IdType.FOREIGNER_PERMIT.value,
}
GENDER_CHOICES = {"男": Gender.MALE.value, "女": Gender.FEMALE.value}
CARD_TYPE_CHOICES = {"借记卡": CardType.DEBIT.value, "借贷合一卡": CardType.DEBIT_CREDIT.value}
EMPLOYMENT_CHOICES = {
    "在职": EmploymentStatus.IN_SERVICE.value,
    "退休": EmploymentStatus.RETIRED.value,
    "死亡": EmploymentStatus.DECEASED.value,
}
AFFILIATION_CHOICES = {
    "企业内": Affiliation.ENTERPRISE.value,
    "灵活就业": Affiliation.FLEXIBLE.value,
    "企业外入会": Affiliation.OUTSIDE.value,
}
YES_NO = ("是", "否")

COLUMNS: tuple[Column, ...] = (
    Column("name", "姓名", True, ("会员姓名",)),
    Column(
        "id_type",
        "证件类型",
        False,
        (),
        _enum(
            ID_TYPE_CHOICES,
            {
                "身份证": "resident_id",
                "港澳通行证": "hk_macau_permit",
                "回乡证": "hk_macau_permit",
                "台胞证": "taiwan_permit",
                "外国人永久居留证": "foreigner_permit",
            },
        ),
        tuple(ID_TYPE_CHOICES),
        "空白视为居民身份证",
    ),
    Column("id_number", "证件号码", True, ("证件号", "身份证号码", "身份证号")),
    Column(
        "id_expiry",
        "证件有效期至",
        True,
        ("证件有效到期日", "证件到期日", "证件有效期"),
        allowed=("长期",),
        hint="日期（如 2030-01-31）或“长期”",
    ),
    Column(
        "gender",
        "性别",
        False,
        (),
        _enum(GENDER_CHOICES, {"m": "male", "f": "female"}),
        tuple(GENDER_CHOICES),
        "居民身份证可不填，按号码判断",
    ),
    Column("ethnicity", "民族", False, (), _same(ETHNICITIES), ETHNICITIES),
    Column("nationality", "国籍", False, (), hint="居民身份证可不填，默认中国"),
    Column(
        "political_status", "政治面貌", False, (), _same(POLITICAL, {"党员": "中共党员", "团员": "共青团员"}), POLITICAL
    ),
    Column(
        "education",
        "学历",
        False,
        (),
        _same(
            EDUCATION,
            {
                "高中": "高中/技校",
                "技校": "高中/技校",
                "高中、技校": "高中/技校",
                "本科": "大学本科",
                "硕士": "硕士研究生",
                "博士": "博士研究生",
            },
        ),
        EDUCATION,
    ),
    Column("title_level", "职称/技术等级", False, ("职称/技能等级", "职称"), _same(TITLES), TITLES),
    Column("phone", "手机号码", True, ("本人手机号码", "手机号", "手机")),
    Column("household_registration", "户口所在地", False),
    Column("contact_address", "联系地址", False),
    Column("work_address", "工作单位详细地址", True, ("单位详细地址", "工作单位地址"), hint="须超过6个汉字"),
    Column("work_start_month", "参加工作时间", False, hint="年月，如 2010-07"),
    Column("union_join_month", "加入工会时间", False, hint="年月，如 2012-03"),
    Column(
        "social_insurance_start",
        "开始参加社保时间",
        False,
        ("参加社保时间",),
        allowed=("未参加",),
        hint="年月，或“未参加”",
    ),
    Column("rural_household", "是否农村户口", False, (), allowed=YES_NO),
    Column("dispatched_worker", "是否劳务派遣", False, (), allowed=YES_NO),
    Column("labour_contract", "是否签订劳动合同", False, (), allowed=YES_NO),
    Column("occupation", "职业", False, (), _same(OCCUPATIONS), OCCUPATIONS),
    Column(
        "card_type",
        "办卡类型",
        False,
        ("办工会卡类型",),
        _enum(CARD_TYPE_CHOICES, {}),
        tuple(CARD_TYPE_CHOICES),
        "空白视为借记卡",
    ),
    Column(
        "employment_status",
        "在职状态",
        False,
        ("人员状态",),
        _enum(EMPLOYMENT_CHOICES, {"已故": "deceased"}),
        tuple(EMPLOYMENT_CHOICES),
        "空白视为在职",
    ),
    Column("retirement_date", "退休日期", False, hint="退休人员必填"),
    Column(
        "affiliation",
        "入会方式",
        False,
        (),
        _enum(AFFILIATION_CHOICES, {"关联企业内": "enterprise"}),
        tuple(AFFILIATION_CHOICES),
        "空白视为企业内",
    ),
)
BY_KEY = {c.key: c for c in COLUMNS}
MANDATORY = tuple(c for c in COLUMNS if c.mandatory)


def _norm_header(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).strip().lstrip("\ufeff")
    return "".join(text.split()).replace("*", "").replace("＊", "").lower()


_HEADER_LOOKUP: dict[str, str] = {}
for _c in COLUMNS:
    for _name in (_c.key, _c.header, *_c.aliases):
        _HEADER_LOOKUP[_norm_header(_name)] = _c.key


def map_headers(headers: Sequence[object]) -> tuple[dict[str, int], list[str]]:
    """Column key -> position for a header row; also the headers that were not recognised."""
    positions: dict[str, int] = {}
    unknown: list[str] = []
    for index, raw in enumerate(headers):
        if raw is None or str(raw).strip() == "":
            continue
        key = _HEADER_LOOKUP.get(_norm_header(str(raw)))
        if key is None:
            unknown.append(str(raw))
        elif key not in positions:
            positions[key] = index
    return positions, unknown


def missing_mandatory(positions: dict[str, int]) -> list[Column]:
    return [c for c in MANDATORY if c.key not in positions]
