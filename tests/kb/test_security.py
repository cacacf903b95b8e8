"""Passwords: production hashes with argon2id at pwdlib's recommended cost (the suite uses a cheaper one)."""

from __future__ import annotations

import subprocess
import sys

from kb.accounts import security
from tests.helpers import ROOT


def test_production_hashes_passwords_with_argon2id_at_the_recommended_cost() -> None:
    # A fresh interpreter: kb as every entry point loads it, without the suite's cheaper hasher.
    printed = subprocess.run(
        [sys.executable, "-c", "from kb.accounts.security import hash_password, verify_password\n"
         "h = hash_password('correct horse'); assert verify_password('correct horse', h); print(h)"],
        cwd=ROOT, capture_output=True, text=True, check=True, timeout=60).stdout
    assert printed.startswith("$argon2id$v=19$m=65536,t=3,p=4$")


def test_a_hash_made_at_another_cost_still_verifies() -> None:
    strong = "$argon2id$v=19$m=65536,t=3,p=4$"
    made_elsewhere = subprocess.run(
        [sys.executable, "-c", "from kb.accounts.security import hash_password; print(hash_password('s3cret-pass'))"],
        cwd=ROOT, capture_output=True, text=True, check=True, timeout=60).stdout.strip()
    assert made_elsewhere.startswith(strong)
    assert security.verify_password("s3cret-pass", made_elsewhere)
    assert not security.verify_password("wrong-pass", made_elsewhere)
