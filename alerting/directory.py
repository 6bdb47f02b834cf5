"""Who is who: the technician directory (``technicians.csv``).

A technician is a person alerting can reach on their own phone (LINE, Telegram, e-mail)
and who may answer from it: the chat hooks map a LINE ``userId`` or a Telegram user id to
the technician, and the on-call rota (:mod:`alerting.oncall`) names technicians by id.
The file is kept by people in spreadsheets, so it is read like the inventory: UTF-8 with or
without a BOM, cells stripped, empty rows skipped, and every problem reported at once as
``file:line: field: message``.

Columns: ``technician_id,name,phone,email,line_user_id,telegram_user_id,provinces,
districts``; ``provinces`` and ``districts`` are space-separated official codes the
technician covers.

The *provincial lead* is the last step of every escalation in a province. Who it is:

* with the optional column ``lead`` after those (``yes``/``no``; the issue's eight columns
  stay accepted exactly as they are), the technicians marked ``yes`` lead every province
  in their ``provinces`` -- and only they: a file that names leads names all of them;
* without it, a technician who covers a province and no district at all leads that
  province (covering whole provinces and no single district is what a lead does).

When several technicians lead one province the first in the file is its lead. A province
with none: escalation stops at the last person on call there (logged at load and when an
escalation finds nobody further).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from inventory.problems import Problem

COLUMNS = ("technician_id", "name", "phone", "email", "line_user_id", "telegram_user_id",
           "provinces", "districts")
REQUIRED = ("technician_id", "name")
LEAD = "lead"
"""The optional column that names provincial leads explicitly."""
_YES = {"yes", "y", "true", "1", "ใช่"}
_NO = {"no", "n", "false", "0", "ไม่ใช่", ""}
LINE_USER_ID = re.compile(r"U[0-9a-f]{32}")
"""What the LINE Messaging API calls a user id: ``U`` and 32 hex digits."""
TECHNICIAN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}")


class DirectoryError(Exception):
    """A directory or rota file cannot be used; ``problems`` lists every reason with its
    ``file:line: field:`` anchor (``str()`` is all of them, one a line)."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


@dataclass(frozen=True, slots=True)
class Technician:
    technician_id: str
    name: str
    phone: str = ""
    email: str = ""
    line_user_id: str = ""
    telegram_user_id: str = ""
    provinces: frozenset[str] = frozenset()
    districts: frozenset[str] = frozenset()
    leads: frozenset[str] = frozenset()
    """Provinces whose lead this technician is (module docstring)."""

    @property
    def is_lead(self) -> bool:
        """The last step of an escalation in the provinces it :attr:`leads`."""
        return bool(self.leads)


class Directory:
    """Technicians by id, by LINE user id and by Telegram user id (file order kept)."""

    def __init__(self, technicians: Iterable[Technician] = ()) -> None:
        self.by_id: dict[str, Technician] = {}
        self.by_line: dict[str, Technician] = {}
        self.by_telegram: dict[str, Technician] = {}
        for tech in technicians:
            self.by_id[tech.technician_id] = tech
            if tech.line_user_id:
                self.by_line[tech.line_user_id] = tech
            if tech.telegram_user_id:
                self.by_telegram[tech.telegram_user_id] = tech

    def __len__(self) -> int:
        return len(self.by_id)

    def get(self, technician_id: str) -> Technician | None:
        return self.by_id.get(technician_id)

    def lead_of(self, province_code: str) -> Technician | None:
        """The province's lead (module docstring): the first technician in the file who
        leads it; None when nobody does."""
        for tech in self.by_id.values():
            if province_code in tech.leads:
                return tech
        return None


def read_rows(path: Path, columns: tuple[str, ...], required: tuple[str, ...],
              problems: list[Problem]) -> list[tuple[int, dict[str, str]]]:
    """``(line, row)`` of a small CSV file with a header (BOM ok, cells stripped, empty rows
    skipped); problems with the file or its header are appended to ``problems``."""
    file = str(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        problems.append(Problem(file, 0, "file", f"cannot read: {exc.strerror or exc}"))
        return []
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        problems.append(Problem(file, line, "encoding", "not UTF-8; save the file as UTF-8 "
                                "(Excel: 'CSV UTF-8')"))
        return []
    reader = csv.reader(text.splitlines())
    header: list[str] | None = None
    rows: list[tuple[int, dict[str, str]]] = []
    try:
        for cells in reader:
            line = reader.line_num
            stripped = [c.strip() for c in cells]
            if not any(stripped):
                continue
            if header is None:
                header = [c.lower() for c in stripped]
                missing = [c for c in required if c not in header]
                if missing:
                    problems.append(Problem(file, line, "header", "missing column(s) "
                                            + ", ".join(missing) + "; expected "
                                            + ",".join(columns)))
                    return []
                continue
            if len(stripped) > len(header):
                problems.append(Problem(file, line, "row", f"{len(stripped)} cells, the "
                                        f"header has {len(header)} columns"))
                continue
            row = dict.fromkeys([*columns, *header], "")  # a short row: the rest empty
            row.update(zip(header, stripped, strict=False))
            rows.append((line, row))
    except csv.Error as exc:
        problems.append(Problem(file, reader.line_num, "csv", f"cannot parse CSV: {exc}"))
    if header is None:
        problems.append(Problem(file, 0, "header", "empty file; expected the header "
                                + ",".join(columns)))
    return rows


def _codes(text: str, width: int, index: Mapping[str, object], what: str,
           problem: list[str]) -> frozenset[str]:
    codes = text.replace(",", " ").split()
    for code in codes:
        if not (len(code) == width and code.isdigit()):
            problem.append(f"{code!r} is not a {width}-digit {what} code")
        elif code not in index:
            problem.append(f"no {what} has the code {code}")
    return frozenset(codes)


def load_technicians(path: Path) -> Directory:
    """Read ``technicians.csv``. Raises :class:`DirectoryError` naming every problem."""
    from inventory.geography import district_index, province_index

    problems: list[Problem] = []
    file = str(path)
    technicians: list[Technician] = []
    seen: dict[str, int] = {}
    seen_line: dict[str, int] = {}
    seen_telegram: dict[str, int] = {}
    for line, row in read_rows(path, COLUMNS, REQUIRED, problems):
        bad = len(problems)

        def problem(field: str, message: str, line: int = line) -> None:
            problems.append(Problem(file, line, field, message))

        tech_id = row["technician_id"]
        if not tech_id:
            problem("technician_id", "empty")
        elif not TECHNICIAN_ID.fullmatch(tech_id):
            problem("technician_id", f"{tech_id!r}: use letters, digits, '-', '_' or '.'")
        elif tech_id in seen:
            problem("technician_id", f"{tech_id} is already on line {seen[tech_id]}")
        if not row["name"]:
            problem("name", "empty")
        email = row["email"]
        if email and ("@" not in email or any(c.isspace() for c in email)):
            problem("email", f"{email!r} is not an e-mail address")
        line_id = row["line_user_id"]
        if line_id:
            if not LINE_USER_ID.fullmatch(line_id):
                problem("line_user_id", "not a LINE user id (U and 32 hex digits, as LINE's "
                        "webhook events give it in source.userId)")
            elif line_id in seen_line:
                problem("line_user_id", f"already given to the technician on line "
                        f"{seen_line[line_id]}")
        tg_id = row["telegram_user_id"]
        if tg_id:
            if not tg_id.isdigit():
                problem("telegram_user_id", f"{tg_id!r} is not a Telegram user id (a number)")
            elif tg_id in seen_telegram:
                problem("telegram_user_id", f"already given to the technician on line "
                        f"{seen_telegram[tg_id]}")
        wrong: list[str] = []
        provinces = _codes(row["provinces"], 2, province_index(), "province", wrong)
        for message in wrong:
            problem("provinces", message)
        wrong = []
        districts = _codes(row["districts"], 4, district_index(), "district", wrong)
        for message in wrong:
            problem("districts", message)
        leads = frozenset[str]()
        if LEAD not in row:  # the header: whole provinces, no district
            leads = provinces if not row["districts"].strip() else frozenset()
        elif row[LEAD].casefold() in _YES:
            leads = provinces
            if not provinces:
                problem(LEAD, "a lead needs the provinces they lead in 'provinces'")
        elif row[LEAD].casefold() not in _NO:
            problem(LEAD, f"{row[LEAD]!r}: yes or no (empty is no)")
        if len(problems) > bad:
            continue
        seen[tech_id] = line
        if line_id:
            seen_line[line_id] = line
        if tg_id:
            seen_telegram[tg_id] = line
        technicians.append(Technician(tech_id, row["name"], row["phone"], email, line_id,
                                      tg_id, provinces, districts, leads))
    if problems:
        raise DirectoryError(problems)
    return Directory(technicians)
