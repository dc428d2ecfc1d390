"""API keys: generation and hashing.

A key is 40 random letters and digits (~238 bits). Only its SHA-256 digest is
stored, so a leaked database does not hand out working keys. A fast hash is
the right tool here (unlike for passwords): the key is random and long, so
there is nothing to brute-force, and the API looks the key up on every call.
"""

import hashlib
import secrets
import string

ALPHABET = string.ascii_letters + string.digits
KEY_LENGTH = 40


def generate_key() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(KEY_LENGTH))


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
