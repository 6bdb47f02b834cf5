"""``pubnet.words``: the Thai/English tables load as data, and a table with a missing or extra
translation fails at load naming the file and the key."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from alerting.messages import TEXT as MESSAGE_WORDS
from dashboards.reports.text import TEXT as REPORT_WORDS
from pubnet.words import load_words


@pytest.fixture
def package(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "wordspkg"
    folder.mkdir()
    (folder / "__init__.py").write_text("")
    sys.path.insert(0, str(tmp_path))
    try:
        yield folder
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("wordspkg", None)


def test_the_shipped_tables_have_both_languages() -> None:
    assert MESSAGE_WORDS["firing"] == {"en": "[FIRING]", "th": "[แจ้งเหตุ]"}
    assert REPORT_WORDS["national"] == {"th": "ทั้งประเทศ", "en": "National"}


@pytest.mark.parametrize("text", [
    "ok:\n  th: ดี\n  en: good\nbad:\n  th: ไม่ดี\n",
    "ok:\n  th: ดี\n  en: good\nbad:\n  th: ไม่ดี\n  en: bad\n  fr: mauvais\n",
    "ok:\n  th: ดี\n  en: good\nbad:\n  th: ไม่ดี\n  en: [1, 2]\n",
], ids=["missing-english", "extra-language", "not-a-string"])
def test_a_bad_entry_names_the_file_and_key(package: Path, text: str) -> None:
    (package / "words.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match=r"^wordspkg/words\.yaml: bad: expected one string"):
        load_words("wordspkg", "words.yaml")


def test_a_good_table_loads(package: Path) -> None:
    (package / "words.yaml").write_text("ok:\n  th: ดี {n}\n  en: good {n}\n", encoding="utf-8")
    assert load_words("wordspkg", "words.yaml") == {"ok": {"th": "ดี {n}", "en": "good {n}"}}
