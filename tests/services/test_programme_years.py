"""Programme years through the services, without HTTP: only an admin configures a year, everyone
reads it; a district's fee split is seen by those who cover the district and set by its own
reviewer (or an admin) inside the split window only; who extends which date, and an extension
that is not later than the date it extends."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlmodel import Session
from temporalio.client import Client

from core.errors import AppError, Forbidden, Invalid
from core.settings import Settings
from models.extension import ExtensionCreate, ExtensionPublic
from models.programme import FeeSplit, ProgrammeYearConfig
from models.states import ExtensionKind
from rules.calendar import today
from services import programme_years
from tests.enrollment_setup import config_2014_rules, config_2024_round, config_around
from tests.services.actors import who

YEAR, CLOSED = 2088, 2077  # years of this module alone
DISTRICT = "101"
COVER_DISTRICT = {"admin@SH", "center_reviewer@SH", "reviewer@101"}
SPLIT = FeeSplit(city=Decimal(40), district=Decimal(40), grassroots=Decimal(20))



def refused(expected: str, error: AppError) -> None:
    assert error.code == expected, (error.code, error.message)


def test_who_configures_a_year_and_sets_a_fee_split(
    session: Session, tokens: dict[str, str], settings: Settings
) -> None:
    config = ProgrammeYearConfig.model_validate(config_around(today(settings.timezone)))
    for key in sorted(set(tokens) - {"admin@SH"}):
        with pytest.raises(Forbidden):
            programme_years.put_programme_year(session=session, actor=who(session, tokens, key), year=YEAR, data=config)
    made = programme_years.put_programme_year(
        session=session, actor=who(session, tokens, "admin@SH"), year=YEAR, data=config
    )
    assert made.year == YEAR and made.config == config
    for field, rare in (("plan_name", config.model_copy(update={"plan_name": "𠮷保障计划"})),
                        ("protection_types.0.name", config.model_copy(update={"protection_types": [
                            config.protection_types[0].model_copy(update={"name": "𠮷专享"}),
                            *config.protection_types[1:]]}))):  # fmt: skip
        with pytest.raises(Invalid) as unprintable:  # it would print as a blank in the notices
            programme_years.put_programme_year(session=session, actor=who(session, tokens, "admin@SH"), year=YEAR,
                                               data=rare)  # fmt: skip
        assert unprintable.value.code == "unprintable_characters" and "𠮷" in unprintable.value.message
        assert unprintable.value.details == {"field": field, "characters": ["𠮷"]}
    for key in sorted(tokens):
        actor = who(session, tokens, key)
        assert programme_years.read_programme_year(session=session, actor=actor, year=YEAR).config == config
        assert YEAR in {y.year for y in programme_years.list_programme_years(session=session, actor=actor)}
        if key in COVER_DISTRICT:
            split = programme_years.read_fee_split(session=session, actor=actor, code=DISTRICT, year=YEAR)
            assert split == (config.default_split if key == "admin@SH" else SPLIT)  # the admin sets it first
        else:
            with pytest.raises(Forbidden):
                programme_years.read_fee_split(session=session, actor=actor, code=DISTRICT, year=YEAR)
        if key in ("admin@SH", "reviewer@101"):  # the district's own reviewer, an admin
            assert (
                programme_years.put_fee_split(
                    session=session, actor=actor, settings=settings, code=DISTRICT, year=YEAR, data=SPLIT
                )
                == SPLIT
            )
        else:
            with pytest.raises(Forbidden):
                programme_years.put_fee_split(
                    session=session, actor=actor, settings=settings, code=DISTRICT, year=YEAR, data=SPLIT
                )
    reviewer = who(session, tokens, "reviewer@101")
    assert programme_years.read_fee_split(session=session, actor=reviewer, code=DISTRICT, year=YEAR) == SPLIT
    with pytest.raises(Forbidden) as other:  # another district's split
        programme_years.put_fee_split(session=session, actor=reviewer, settings=settings, code="104", year=YEAR,
                                      data=SPLIT)  # fmt: skip
    refused("outside_scope", other.value)

    closed = ProgrammeYearConfig.model_validate(config_around(today(settings.timezone), split=(-3, -2)))
    programme_years.put_programme_year(session=session, actor=who(session, tokens, "admin@SH"), year=CLOSED,
                                       data=closed)  # fmt: skip
    with pytest.raises(AppError) as late:
        programme_years.put_fee_split(session=session, actor=reviewer, settings=settings, code=DISTRICT, year=CLOSED,
                                      data=SPLIT)  # fmt: skip
    refused("outside_window", late.value)
    with pytest.raises(AppError) as unknown:
        programme_years.read_programme_year(session=session, actor=reviewer, year=2090)
    refused("programme_year_not_found", unknown.value)


async def test_who_extends_which_date(
    session: Session, tokens: dict[str, str], settings: Settings, temporal_client: Client
) -> None:
    config = programme_years.read_programme_year(
        session=session, actor=who(session, tokens, "admin@SH"), year=YEAR
    ).config
    later = config.payment_deadline + timedelta(days=2)

    async def extend(key: str, kind: ExtensionKind, district: str | None, new: date) -> ExtensionPublic:
        return await programme_years.create_extension(
            session=session, actor=who(session, tokens, key), temporal=temporal_client, settings=settings, year=YEAR,
            data=ExtensionCreate(kind=kind, district_code=district, new_date=new, reason="测试延期"),
        )  # fmt: skip

    for key in ("clerk@101-0001", "reviewer@101-S01", "reviewer@101-0001"):
        with pytest.raises(Forbidden) as no:
            await extend(key, ExtensionKind.PAYMENT_DEADLINE, DISTRICT, later)
        refused("extension_not_allowed", no.value)
    with pytest.raises(Forbidden) as year_wide:  # a district reviewer extends its own district's deadline only
        await extend("reviewer@101", ExtensionKind.PAYMENT_DEADLINE, None, later)
    refused("extension_not_allowed", year_wide.value)
    with pytest.raises(AppError) as not_later:
        await extend("reviewer@101", ExtensionKind.PAYMENT_DEADLINE, DISTRICT, config.payment_deadline)
    refused("extension_not_later", not_later.value)
    made = await extend("reviewer@101", ExtensionKind.PAYMENT_DEADLINE, DISTRICT, later)
    assert made.reached == 0 and made.old_date == config.payment_deadline
    center = await extend(
        "center_reviewer@SH", ExtensionKind.DISTRICT_WINDOW, None, config.district_window.end + timedelta(days=1)
    )
    assert center.district_code is None
    listed = programme_years.list_extensions(session=session, actor=who(session, tokens, "clerk@104-0001"), year=YEAR)
    assert [e.kind for e in listed] == [ExtensionKind.DISTRICT_WINDOW, ExtensionKind.PAYMENT_DEADLINE]
    moved = programme_years.read_programme_year(session=session, actor=who(session, tokens, "admin@SH"), year=YEAR)
    assert moved.config.district_window.end == config.district_window.end + timedelta(days=1)  # year-wide: moved
    assert moved.config.payment_deadline == config.payment_deadline  # a district's own: a record of its own


def test_a_year_moved_on_keeps_its_rules_and_moves_every_date() -> None:
    old = ProgrammeYearConfig.model_validate(config_2024_round())
    new = programme_years.moved_config(old, old=2024, new=2025)
    assert new.plan_name == old.plan_name.replace("2024", "2025")
    assert (new.split_window.start, new.coverage.end) == (date(2024, 10, 25), date(2025, 12, 31))
    assert new.payment_deadline == old.payment_deadline.replace(year=old.payment_deadline.year + 1)
    assert (new.protection_types, new.default_split, new.claim_amounts) == (
        old.protection_types, old.default_split, old.claim_amounts,
    )  # fmt: skip
    by_card = ProgrammeYearConfig.model_validate(config_2014_rules())
    later = programme_years.moved_config(by_card, old=2014, new=2016)
    assert [p.cards_until for p in later.types_by_card or []] == [
        p.cards_until.replace(year=p.cards_until.year + 2) if p.cards_until else None
        for p in by_card.types_by_card or []
    ]
    leap = config_around(date(2024, 2, 29), deadline=0, submission=(0, 0), split=(0, 0), district=(0, 1))
    assert programme_years.moved_config(
        ProgrammeYearConfig.model_validate(leap), old=2024, new=2025
    ).payment_deadline == date(2025, 2, 28)
