"""``web.operators``: bcrypt hashes only, errors that name the operator and never the value,
and one password per name on the one listener."""

from __future__ import annotations

from pathlib import Path

import pytest

from pubnet.config import ConfigError, parse_config
from tests.status.app import hashed


def test_operators_are_read(tmp_path: Path) -> None:
    hash_ = hashed("pw")
    config = parse_config({"web": {"operators": {"somchai": hash_}}}, base_dir=tmp_path)
    assert config.web.operators == {"somchai": hash_}
    assert parse_config({}, base_dir=tmp_path).web.operators == {}


@pytest.mark.parametrize(("operators", "expected"), [
    ({"somchai": "plain-text-password"}, "web.operators: password of operator 'somchai' "
                                         "must be a bcrypt hash"),
    ({"": "x"}, "may not be empty"),
    ({"a:b": "x"}, "may not be empty or contain ':'"),
], ids=["plain-password", "empty-name", "colon"])
def test_bad_operators_name_the_operator_not_the_value(tmp_path: Path,
                                                       operators: dict[str, str],
                                                       expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config({"web": {"operators": operators}}, base_dir=tmp_path)
    assert expected in str(caught.value)
    assert "plain-text-password" not in str(caught.value)


def test_unknown_web_key_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"web\.readers"):
        parse_config({"web": {"readers": {}}}, base_dir=tmp_path)


def test_operator_with_another_listener_password_is_refused(tmp_path: Path) -> None:
    one, other = hashed("one"), hashed("other")
    with pytest.raises(ConfigError, match=r"'somchai' is also in prometheus\.basic_auth_users"):
        parse_config({"web": {"operators": {"somchai": one}},
                      "prometheus": {"basic_auth_users": {"somchai": other}}},
                     base_dir=tmp_path)
    same = parse_config({"web": {"operators": {"somchai": one}},
                         "prometheus": {"basic_auth_users": {"somchai": one}}},
                        base_dir=tmp_path)
    assert same.web.operators["somchai"] == one
