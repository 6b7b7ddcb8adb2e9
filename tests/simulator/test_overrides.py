"""--set overrides: exact paths, shortcuts, JSON values, and one clear error each."""

from __future__ import annotations

import pytest

from fakemeta.simulator.cli._overrides import apply_overrides
from fakemeta.simulator.errors import BadOverride

PAYLOAD = {
    "object": "whatsapp_business_account",
    "entry": [
        {
            "id": "1",
            "changes": [
                {
                    "value": {
                        "metadata": {"phone_number_id": "123"},
                        "messages": [{"id": "wamid.A", "type": "text", "text": {"body": "hi"}}],
                    },
                    "field": "messages",
                }
            ],
        }
    ],
}


def test_string_value_by_full_path_and_original_untouched() -> None:
    result = apply_overrides(PAYLOAD, ["entry.0.id=42"])
    assert result["entry"][0]["id"] == "42"
    assert PAYLOAD["entry"][0]["id"] == "1"


def test_shortcuts_reach_the_first_message_and_value() -> None:
    result = apply_overrides(
        PAYLOAD, ["message.text.body=مرحبا", "value.metadata.phone_number_id=999"]
    )
    value = result["entry"][0]["changes"][0]["value"]
    assert value["messages"][0]["text"]["body"] == "مرحبا"
    assert value["metadata"]["phone_number_id"] == "999"


def test_json_values_and_new_last_key() -> None:
    result = apply_overrides(PAYLOAD, ['message.context:={"forwarded": true}', "entry.0.time:=17"])
    assert result["entry"][0]["changes"][0]["value"]["messages"][0]["context"] == {
        "forwarded": True
    }
    assert result["entry"][0]["time"] == 17


def test_value_may_contain_equals_signs() -> None:
    result = apply_overrides(PAYLOAD, ["message.text.body=a=b:=c"])
    assert result["entry"][0]["changes"][0]["value"]["messages"][0]["text"]["body"] == "a=b:=c"


@pytest.mark.parametrize(
    ("override", "says"),
    [
        ("message.txt.body=x", "no key 'txt'"),
        ("entry.5.id=x", "no index"),
        ("entry.x.id=x", "no index"),
        ("object.inner=x", "is a str"),
        ("no-equals-sign", "expected path=value"),
        ("=x", "path before '=' is empty"),
        ("message.text:={bad json", "is not JSON"),
    ],
)
def test_bad_overrides_say_what_is_wrong(override: str, says: str) -> None:
    with pytest.raises(BadOverride, match=says):
        apply_overrides(PAYLOAD, [override])
