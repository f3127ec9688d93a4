"""The CLI contract, run as operators' scripts run it: a separate process per command."""

import os
import subprocess
import sys
from datetime import date

import pytest


def gl(tmp_path, *args, env_extra=None, check=True):
    env = dict(os.environ, DATABASE_URL=f"sqlite:///{tmp_path / 'cli.db'}", GL_INSTANCE_DIR=str(tmp_path / "inst"))
    env.pop("REDIS_URL", None)
    extra = dict(env_extra or {})
    if extra.get("GL_MODEL_DECLARED_LICENCES") and env.get("GL_MODEL_DECLARED_LICENCES"):
        # the session's declarations (the tiny video model's, tests/conftest.py) stay declared
        extra["GL_MODEL_DECLARED_LICENCES"] += "," + env["GL_MODEL_DECLARED_LICENCES"]
    env.update(extra)
    result = subprocess.run([sys.executable, "-m", "app.cli", *args], env=env, capture_output=True, text=True,
                            timeout=120)
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


def test_upgrade_user_token_and_audit(tmp_path):
    assert "database at head" in gl(tmp_path, "db", "upgrade").stdout
    assert "models match migrations" in gl(tmp_path, "db", "check").stdout
    out = gl(tmp_path, "user", "create", "ops@t.test", "--role", "reviewer", "--password", "long-enough-pw",
             "--birthdate", "1990-01-01").stdout
    assert "ops@t.test" in out and "reviewer" in out
    token = gl(tmp_path, "token", "ops@t.test").stdout.strip().splitlines()[-1]
    assert token.startswith("glt_") and len(token) > 30
    # `TOKEN=$(greenlight token ...)` keeps working: stdout is the token alone, its expiry on stderr.
    short = gl(tmp_path, "token", "ops@t.test", "--expires-in", "2h")
    assert short.stdout.startswith("glt_") and len(short.stdout.splitlines()) == 1
    assert short.stderr.startswith("expires ")
    assert gl(tmp_path, "token", "ops@t.test", "--expires-in", "soon", check=False).returncode == 2
    assert "audit chain intact" in gl(tmp_path, "audit", "verify").stdout
    # The secret key was generated into the instance folder, readable only by its owner.
    assert oct((tmp_path / "inst" / "secret_key").stat().st_mode & 0o777) == "0o600"


def test_bad_cli_input_fails_cleanly(tmp_path):
    gl(tmp_path, "db", "upgrade")
    dup = ["user", "create", "a@t.test", "--password", "long-enough-pw"]
    gl(tmp_path, *dup)
    again = gl(tmp_path, *dup, check=False)
    assert again.returncode != 0 and "email_taken" in again.stderr
    weak = gl(tmp_path, "user", "create", "b@t.test", "--password", "short", check=False)
    assert weak.returncode != 0 and "weak_password" in weak.stderr
    child = gl(tmp_path, "user", "create", "kid@t.test", "--password", "long-enough-pw", "--birthdate",
               f"{date.today().year - 7}-01-01", check=False)
    assert child.returncode != 0 and "below_minimum_age" in child.stderr
    missing = gl(tmp_path, "token", "ghost@t.test", check=False)
    assert missing.returncode != 0 and "no user" in missing.stderr
    bad_role = gl(tmp_path, "user", "create", "c@t.test", "--password", "long-enough-pw", "--role", "god",
                  check=False)
    assert bad_role.returncode != 0


def test_a_bad_setting_is_one_line_naming_the_variable(tmp_path):
    bad = gl(tmp_path, "recover", env_extra={"GL_JOB_RETRIES": "abc"}, check=False)
    assert bad.returncode == 1 and "Traceback" not in bad.stderr
    assert "configuration: GL_JOB_RETRIES='abc' is not an integer" in bad.stderr


def test_domain_commands_keep_their_names_and_answer_under_their_domain(tmp_path):
    for group in (("figures",), ("keys",), ("likeness", "figures"), ("likeness", "keys"), ("works",), ("banks",),
                  ("policy",)):
        assert "Usage:" in gl(tmp_path, *group, "--help").stdout, group
    assert "enrol-faces" in gl(tmp_path, "likeness", "figures", "--help").stdout


@pytest.mark.slow
def test_demo_seeds_once(tmp_path):
    gl(tmp_path, "db", "upgrade")
    out = gl(tmp_path, "demo", env_extra={"GL_RENDER_SECONDS": "1"}).stdout
    assert "blocked" in out and "queued" in out and "in_review" in out and "token for @alice" in out
    assert "appealed   the Garfield block" in out
    assert "already seeded" in gl(tmp_path, "demo").stdout


def test_cases_sweep_needs_an_admin_then_alerts(tmp_path):
    gl(tmp_path, "db", "upgrade")
    refused = gl(tmp_path, "cases", "sweep", check=False)
    assert refused.returncode != 0 and "no admin account" in refused.stderr
    gl(tmp_path, "user", "create", "boss@t.test", "--role", "admin", "--password", "long-enough-pw",
       "--birthdate", "1980-01-01")
    assert "lapsed 0, alerted 0" in gl(tmp_path, "cases", "sweep").stdout
    assert gl(tmp_path, "mail", "outbox").returncode == 0


def test_audit_verify_catches_truncation_a_deleted_tail_and_a_forged_checkpoint(tmp_path):
    """Issue 13, point 1, as the operator saw it: `TRUNCATE audit_events` and a deleted last row
    both passed `greenlight audit verify` ("intact: 0 events"); now the signed checkpoint catches
    them, and an altered checkpoint, or none at all, fails too."""
    import json
    import sqlite3

    gl(tmp_path, "db", "upgrade")  # anchors the (empty) chains with a first checkpoint
    for email in ("u@t.test", "v@t.test"):
        gl(tmp_path, "user", "create", email, "--password", "long-enough-pw")
    assert "audit:" in gl(tmp_path, "audit", "checkpoint").stdout
    db = sqlite3.connect(tmp_path / "cli.db")
    rows = db.execute("SELECT count(*) FROM audit_events").fetchone()[0]
    assert rows >= 2 and f"audit chain intact: {rows} events" in gl(tmp_path, "audit", "verify").stdout

    def attack(statement):  # what the attacker did, with SQLite's triggers out of the way
        triggers = db.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' "
                              "AND tbl_name = 'audit_events'").fetchall()
        for name, _ in triggers:
            db.execute(f"DROP TRIGGER {name}")
        db.execute(statement)
        for _, trigger in triggers:
            db.execute(trigger)
        db.commit()

    attack("DELETE FROM audit_events WHERE id = (SELECT max(id) FROM audit_events)")
    tail = gl(tmp_path, "audit", "verify", check=False)
    assert tail.returncode == 1 and f"ends after {rows - 1} events" in tail.stderr and "BROKEN" in tail.stderr
    attack("DELETE FROM audit_events")  # SQLite's TRUNCATE
    db.close()
    emptied = gl(tmp_path, "audit", "verify", check=False)
    assert emptied.returncode == 1 and "audit chain BROKEN: the table is empty" in emptied.stderr
    assert "audit chain intact" not in emptied.stdout

    folder = tmp_path / "inst" / "checkpoints" / "audit"
    newest = sorted(folder.glob("*.json"))[-1]
    newest.write_text(json.dumps(json.loads(newest.read_text()) | {"count": 0}))  # to hide the truncation
    forged = gl(tmp_path, "audit", "verify", check=False)
    assert forged.returncode == 1 and "signature does not verify" in forged.stderr
    for path in folder.glob("*.json"):
        path.unlink()
    bare = gl(tmp_path, "audit", "verify", check=False)
    assert bare.returncode == 1 and "audit chain UNANCHORED" in bare.stderr
