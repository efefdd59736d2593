"""`reglab token create|ls|revoke` on a real database, and the REST commands' --token / REGLAB_TOKEN."""

import hashlib

import pytest
import sqlalchemy as sa

from reglab.cli.main import main


def create(capsys, *args: str) -> str:
    assert main(["token", "create", *args]) == 0
    return capsys.readouterr().out.splitlines()[-1]


def test_create_prints_the_token_alone_on_the_last_line_and_stores_only_its_hash(reglab_env, capsys):
    secret = create(capsys, "--name", "alice", "--scope", "write")
    assert secret.startswith("rl_") and " " not in secret and len(secret) > 40
    engine = sa.create_engine(reglab_env["REGLAB_DATABASE_URL"])
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT name, scope, token_hash FROM tokens")).all()
    engine.dispose()
    assert rows == [("alice", "write", hashlib.sha256(secret.encode()).hexdigest())]
    # A second token gets a different secret.
    assert create(capsys, "--name", "bob", "--scope", "read") != secret


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_ls_lists_tokens_without_secrets_and_revoke_takes_a_name_or_an_id(reglab_env, capsys):
    alice = create(capsys, "--name", "alice", "--scope", "admin")
    create(capsys, "--name", "runner", "--scope", "worker")
    assert main(["token", "ls"]) == 0
    listing = capsys.readouterr().out
    assert "alice" in listing and "admin" in listing and "runner" in listing and "worker" in listing
    assert alice not in listing and "active" in listing
    assert main(["token", "revoke", "1"]) == 0
    assert "'alice' revoked" in capsys.readouterr().out
    assert main(["token", "revoke", "runner"]) == 0
    assert main(["token", "ls"]) == 0
    assert "active" not in capsys.readouterr().out
    # Nothing left to revoke, a duplicate name, and an unknown scope are usage errors, not tracebacks.
    assert main(["token", "revoke", "alice"]) == 2
    assert "no active token" in capsys.readouterr().err
    create(capsys, "--name", "carol", "--scope", "read")
    assert main(["token", "create", "--name", "carol", "--scope", "read"]) == 2
    assert "already named 'carol'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(["token", "create", "--name", "dave", "--scope", "root"])
    assert exit_info.value.code == 2


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_rest_commands_send_reglab_token_or_token(reglab_env, monkeypatch, capsys, tmp_path):
    import subprocess
    import sys

    from backend.cli.processes import wait_for_api
    from tests.fixtures.services import free_port

    port = free_port()
    env = {**reglab_env, "REGLAB_AUTH": "all"}
    log = (tmp_path / "api.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "backend.main:create_app", "--factory", "--port", str(port)],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        assert wait_for_api(url, 60)
        reader = create(capsys, "--name", "reader", "--scope", "read")
        assert main(["ls", "--url", url]) == 1
        assert "401" in capsys.readouterr().err
        assert main(["ls", "--url", url, "--token", reader]) == 0
        assert "RUN" in capsys.readouterr().out
        monkeypatch.setenv("REGLAB_TOKEN", reader)
        from backend.settings import get_settings

        get_settings.cache_clear()
        assert main(["ls", "--url", url]) == 0
        assert main(["cancel", "1", "--url", url]) == 1
        assert "403" in capsys.readouterr().err
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()
