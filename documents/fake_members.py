"""Realistic synthetic members (valid ID numbers, unique phones) for demos, tests and benchmarks."""

from __future__ import annotations

import csv
import random
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

from rules.idnumbers import check_digit
from rules.member_columns import COLUMNS

_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
_GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华建国文斌志红玉萍海燕春梅晓东雪琳浩宇欣怡子涵"
_STREETS = ("南京东路", "淮海中路", "漕溪北路", "中山南路", "人民大道", "徐家汇路", "延安西路", "四川北路")
HEADERS = [c.header for c in COLUMNS]


def resident_id(region: str, birth: date, seq: int, male: bool) -> str:
    """A valid 18-character ID: region, birth date, a 3-digit sequence whose parity is the gender."""
    body = f"{region}{birth:%Y%m%d}{(seq // 2) * 2 + (1 if male else 0):03d}"
    return body + check_digit(body)


def member_rows(
    count: int, seed: int = 7, today: date | None = None, phone_base: int = 13_000_000_000
) -> Iterator[list[str]]:
    """Rows in template column order; every ID and phone is distinct for a given seed."""
    rng = random.Random(seed)
    today = today or date.today()
    region = f"3{seed % 100_000:05d}"  # one region code per seed: different seeds never share an ID
    used: set[str] = set()
    for i in range(count):
        male = rng.random() < 0.5
        while True:
            birth = date(1960, 1, 1) + timedelta(days=rng.randrange(0, 365 * 44))
            number = resident_id(region, birth, rng.randrange(0, 1000), male)
            if number not in used:
                used.add(number)
                break
        age = today.year - birth.year
        expiry = "长期" if age >= 47 else (today + timedelta(days=rng.randrange(200, 3650))).isoformat()
        row = {
            "姓名": rng.choice(_SURNAMES) + "".join(rng.choice(_GIVEN) for _ in range(rng.choice((1, 2)))),
            "证件类型": "居民身份证",
            "证件号码": number,
            "证件有效期至": expiry,
            "性别": "男" if male else "女",
            "民族": "汉族",
            "国籍": "中国",
            "政治面貌": rng.choice(("群众", "中共党员", "共青团员")),
            "学历": rng.choice(("大学本科", "大专", "高中/技校", "硕士研究生")),
            "职称/技术等级": "无",
            "手机号码": str(phone_base + seed * 1_000_000 % 100_000_000 + i),
            "户口所在地": "上海市",
            "联系地址": f"上海市黄浦区{rng.choice(_STREETS)}{rng.randrange(1, 999)}号",
            "工作单位详细地址": f"上海市黄浦区{rng.choice(_STREETS)}{rng.randrange(1, 999)}号大楼",
            "参加工作时间": f"{min(birth.year + 22, today.year - 1)}-{rng.randrange(1, 13):02d}",
            "加入工会时间": f"{min(birth.year + 24, today.year - 1)}-{rng.randrange(1, 13):02d}",
            "开始参加社保时间": "未参加" if rng.random() < 0.02 else f"{min(birth.year + 22, today.year - 1)}-07",
            "是否农村户口": "否",
            "是否劳务派遣": "否",
            "是否签订劳动合同": "是",
            "职业": "公司员工",
            "办卡类型": "借记卡",
            "在职状态": "在职",
            "退休日期": "",
            "入会方式": "企业内",
        }
        yield [row[h] for h in HEADERS]


def write_csv(path: Path, rows: Iterator[list[str]] | list[list[str]], encoding: str = "utf-8") -> Path:
    with path.open("w", encoding=encoding, newline="") as f:
        writer = csv.writer(f)
        writer.writerow(HEADERS)
        writer.writerows(rows)
    return path


def write_xlsx(path: Path, rows: Iterator[list[str]] | list[list[str]]) -> Path:
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("会员信息")
    ws.append(HEADERS)
    for row in rows:
        ws.append(row)
    wb.save(path)
    return path
