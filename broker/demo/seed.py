"""Idempotent demo data: Thuringia's 22 districts, two offices each, ~60 interpreters.

Running it twice gives the same data: every object is found by its natural key (AGS,
office name, username, language code) and only created when missing.
"""

from __future__ import annotations

import csv
import random
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import time
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from broker.auth.security import hash_password
from broker.enums import Gender, OfficeKind, Qualification, Role
from broker.interpreter.models import AvailabilityWindow, InterpreterLanguage, InterpreterProfile
from broker.language import cldr
from broker.language.models import Language, Purpose
from broker.office.models import District, Office
from broker.user.models import User

DATA = Path(__file__).parent / "data"
DEMO_PASSWORD = "demo-passwort"
INTERPRETER_COUNT = 60
SEED = 16  # Thuringia's Länder key; any fixed number keeps the demo reproducible

# Languages most often needed, in rough order of demand; the first get more interpreters.
_FIRST_NAMES = [
    "Amal", "Farid", "Leyla", "Omid", "Nadia", "Yusuf", "Olena", "Dmytro", "Aziz", "Samira",
    "Hamid", "Zainab", "Ivan", "Mariam", "Karim", "Selin", "Tesfay", "Hodan", "Giorgi", "Elif",
    "Anna", "Jonas", "Fatima", "Rami", "Natalia", "Bashir", "Lina", "Mehmet", "Sara", "Arben",
]
_LAST_NAMES = [
    "Haddad", "Rahimi", "Ahmadi", "Kovalenko", "Yilmaz", "Hussein", "Tesfaye", "Warsame",
    "Beridze", "Schneider", "Petrenko", "Karimi", "Mansour", "Berisha", "Popescu", "Nowak",
]

T = TypeVar("T", bound=Any)
ProgressFn = Callable[[str, int, int], None]


@dataclass
class SeedSummary:
    offices: int
    caseworkers: int
    interpreters: int
    languages: int
    logins: list[tuple[str, str]]  # (role, username) examples


def _slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text.replace("ß", "ss")).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")


def _read_csv(name: str) -> list[dict[str, str]]:
    with (DATA / name).open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


async def _get_or_add(db: AsyncSession, model: type[T], key: dict[str, object], **values: object) -> T:
    found = (await db.execute(select(model).filter_by(**key))).scalar_one_or_none()
    if found is not None:
        return found
    obj = model(**key, **values)
    db.add(obj)
    await db.flush()
    return obj


async def seed(db: AsyncSession, progress: ProgressFn | None = None) -> SeedSummary:
    step = progress or (lambda _label, _done, _total: None)
    password_hash = hash_password(DEMO_PASSWORD)  # one hash for all demo accounts: seeding stays fast

    for row in _read_csv("districts.csv"):
        await _get_or_add(db, District, {"ags": row["ags"]}, name=row["name"], kind=row["kind"])
    for row in _read_csv("purposes.csv"):
        await _get_or_add(db, Purpose, {"code": row["code"]}, name_de=row["name_de"],
                          name_en=row["name_en"], sort_order=int(row["sort_order"]), active=True)
    languages = _read_csv("languages.csv")
    for row in languages:
        names = cldr.lookup(row["code"])
        assert names is not None, row["code"]
        await _get_or_add(db, Language, {"code": row["code"]}, name_de=names.name_de,
                          name_en=names.name_en, name_native=names.name_native, rtl=names.rtl,
                          sign_language=names.sign_language, active=True)
    step("languages", 1, 4)

    offices: list[Office] = []
    districts = _read_csv("districts.csv")
    for row in districts:
        for kind, label in ((OfficeKind.IMMIGRATION_OFFICE, "Ausländerbehörde"), (OfficeKind.JOB_CENTRE, "Jobcenter")):
            offices.append(await _get_or_add(db, Office, {"name": f"{label} {row['name']}"},
                                             kind=kind, district_ags=row["ags"], active=True))
    offices.append(await _get_or_add(db, Office, {"name": "Erstaufnahmeeinrichtung Suhl"},
                                     kind=OfficeKind.RECEPTION_CENTRE, district_ags="16054", active=True))
    step("offices", 2, 4)

    caseworkers = 0
    for office in offices:
        for n in (1, 2):
            short = {"immigration_office": "abh", "job_centre": "jc"}.get(office.kind.value, "eae")
            district = office.name.split(" ", 1)[1]
            username = f"sb-{_slug(district)}-{short}-{n}"
            await _get_or_add(db, User, {"username": username}, display_name=f"Sachbearbeitung {n} – {office.name}",
                              role=Role.CASEWORKER, office_id=office.id, password_hash=password_hash,
                              locale="de", active=True)
            caseworkers += 1
    step("caseworkers", 3, 4)

    rng = random.Random(SEED)
    codes = [row["code"] for row in languages]
    for i in range(1, INTERPRETER_COUNT + 1):
        username = f"dolmetscher{i:02d}"
        existing = (await db.execute(select(User).where(User.username == username))).scalar_one_or_none()
        # Draw even for existing users so each interpreter's data does not depend on what exists.
        first, last = rng.choice(_FIRST_NAMES), rng.choice(_LAST_NAMES)
        primary = codes[(i - 1) % len(codes)] if i <= len(codes) else codes[rng.randrange(0, 12)]
        extra = rng.sample(codes[:16], k=rng.choice((0, 1, 1, 2)))
        gender = rng.choice(list(Gender)[:2] + [Gender.FEMALE])
        windows = _weekly_windows(rng)
        if existing is not None:
            continue
        user = User(username=username, display_name=f"{first} {last}", role=Role.INTERPRETER,
                    password_hash=password_hash, locale="de", active=True)
        db.add(user)
        await db.flush()
        profile = InterpreterProfile(user_id=user.id, gender=gender, max_session_minutes=90)
        db.add(profile)
        await db.flush()
        langs = dict.fromkeys([primary, *extra])
        for n, code in enumerate(langs):
            qualification = rng.choice([Qualification.SWORN, Qualification.CERTIFIED, Qualification.TRAINED]
                                       if n == 0 else [Qualification.TRAINED, Qualification.OTHER])
            db.add(InterpreterLanguage(interpreter_id=user.id, language_code=code, qualification=qualification))
        for weekday, start, end in windows:
            db.add(AvailabilityWindow(interpreter_id=user.id, weekday=weekday, start_time=start, end_time=end))
        await db.flush()
    step("interpreters", 4, 4)

    await _get_or_add(db, User, {"username": "manager"}, display_name="Programmleitung", role=Role.MANAGER,
                      password_hash=password_hash, locale="de", active=True)
    await _get_or_add(db, User, {"username": "admin"}, display_name="Administration", role=Role.ADMIN,
                      password_hash=password_hash, locale="de", active=True)
    return SeedSummary(
        offices=len(offices), caseworkers=caseworkers, interpreters=INTERPRETER_COUNT,
        languages=len(languages),
        logins=[("admin", "admin"), ("manager", "manager"), ("caseworker", "sb-erfurt-abh-1"),
                ("interpreter", "dolmetscher01")],
    )


def _weekly_windows(rng: random.Random) -> list[tuple[int, time, time]]:
    """Office hours with personal variation: most work weekdays, some part time, a few evenings."""
    days = sorted(rng.sample(range(5), k=rng.choice((3, 4, 5, 5))))
    start_hour = rng.choice((7, 8, 8, 9))
    windows = [(d, time(start_hour), time(start_hour + rng.choice((4, 5)))) for d in days]
    windows += [(d, time(13), time(rng.choice((16, 17, 18)))) for d in days if rng.random() < 0.7]
    if rng.random() < 0.2:
        windows.append((5, time(9), time(13)))
    return windows


async def logins_by_language(db: AsyncSession) -> list[tuple[str, str, list[str]]]:
    """(code, German name, interpreter usernames) for every active language, for the start-up table."""
    stmt = (select(Language.code, Language.name_de, User.username)
            .join(InterpreterLanguage, InterpreterLanguage.language_code == Language.code)
            .join(User, User.id == InterpreterLanguage.interpreter_id)
            .where(Language.active.is_(True), User.active.is_(True))
            .order_by(Language.name_de, User.username))
    table: dict[str, tuple[str, list[str]]] = {}
    for code, name, username in (await db.execute(stmt)).all():
        table.setdefault(code, (name, []))[1].append(username)
    return [(code, name, users) for code, (name, users) in table.items()]
