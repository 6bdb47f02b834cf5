"""Thai and English text tables, kept as data files beside the code that uses them.

The alert messages (``alerting/words.yaml``) and the coverage report
(``dashboards/reports/words.yaml``) each say a hundred things in both languages. As YAML a
translator reviews and edits the words without reading Python, the file reads the same in
either language, and one loader checks the shape once at import: every key has exactly a
Thai and an English string, so a missing translation fails at start-up, naming the file and
the key, not when the one message that needs it is sent.
"""

from __future__ import annotations

from importlib import resources

import yaml

LANGUAGES = ("th", "en")

Words = dict[str, dict[str, str]]
"""key -> {"th": text, "en": text}; texts are ``str.format`` templates."""


def load_words(package: str, name: str) -> Words:
    """The table in the package resource ``name`` of ``package``.

    Raises :class:`ValueError` naming the file and key when an entry is not exactly one
    string per language of :data:`LANGUAGES`."""
    where = f"{package.replace('.', '/')}/{name}"
    data = yaml.safe_load(resources.files(package).joinpath(name).read_text("utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{where}: expected a mapping of keys to texts")
    words: Words = {}
    for key, texts in data.items():
        if (not isinstance(texts, dict) or sorted(texts) != sorted(LANGUAGES)
                or not all(isinstance(text, str) for text in texts.values())):
            raise ValueError(f"{where}: {key}: expected one string each for "
                             f"{' and '.join(LANGUAGES)}")
        words[str(key)] = texts
    return words
