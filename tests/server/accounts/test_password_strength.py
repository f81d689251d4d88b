"""Passwords are checked for length and for how easy they are to guess."""

import pytest

from strongroom.server.accounts.service import check_password_strength
from strongroom.server.core.errors import ValidationError


@pytest.mark.parametrize(
    ("password", "inputs", "message"),
    [
        ("short-pw", (), "at least 12 characters"),
        ("password1234", (), "too easy to guess"),
        ("123456789012", (), "too easy to guess"),
        ("aaaaaaaaaaaa", (), "too easy to guess"),
        ("alicealicealice", ("alice",), "too easy to guess"),
    ],
)
def test_weak_passwords_are_refused(
    password: str, inputs: tuple[str, ...], message: str
) -> None:
    """Short, common, repetitive or name-based passwords are refused by field."""
    with pytest.raises(ValidationError, match=message) as caught:
        check_password_strength("password", password, user_inputs=inputs)
    assert caught.value.field == "password"


@pytest.mark.parametrize(
    "password",
    [
        "correct-horse-battery-staple",
        "Tr0ub4dor&3xyz-quilt",
        "pV7#kq2LzW9!mR4tYc8@Nf3Hs6" * 3,
    ],
)
def test_strong_passwords_pass(password: str) -> None:
    """Long unrelated words and long random strings (even over 72) pass."""
    check_password_strength("password", password, user_inputs=("alice",))
