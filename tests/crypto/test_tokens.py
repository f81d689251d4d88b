"""Tokens are random, digests keyed, comparisons exact."""

from strongroom.crypto import tokens


def test_tokens_are_unique_and_long() -> None:
    """Two tokens differ and carry at least 32 bytes of entropy."""
    assert tokens.random_token() != tokens.random_token()
    assert len(tokens.random_token()) >= 43


def test_keyed_digest_depends_on_key_and_message() -> None:
    """Changing the key or the message changes the digest."""
    base = tokens.keyed_digest(b"k1", "m")
    assert tokens.keyed_digest(b"k1", "m") == base
    assert tokens.keyed_digest(b"k2", "m") != base
    assert tokens.keyed_digest(b"k1", "n") != base


def test_equal() -> None:
    """Equal compares str and bytes by value."""
    assert tokens.equal("abc", "abc")
    assert tokens.equal(b"abc", "abc")
    assert not tokens.equal("abc", "abd")
