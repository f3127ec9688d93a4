"""One configuration: every variable declared in app/config.py, read nowhere else, documented from
the declarations, parsed with errors that name the variable, and one instance folder whatever the cwd."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from app.cli import main
from app.config import DOCS_PATH, GROUPS, SETTINGS, Config, ConfigError, instance_dir, render_docs, setting

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("app", "likeness", "copyright", "safety", "generator", "review_ui")
TEXT_SUFFIXES = {".py", ".md", ".toml", ".json", ".html", ".txt", ".yaml", ".yml"}
GL_NAME = re.compile(r"\bGL_[A-Z0-9_]+")


def project_files(suffixes: set[str]):
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*")):
            if path.suffix in suffixes and "__pycache__" not in path.parts:
                yield path


def environment_reads(source: str) -> list[int]:
    """Lines that read the process environment; assigning `os.environ[...] = ...` is a write."""
    tree = ast.parse(source)
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "os" and \
                {a.name for a in node.names} & {"environ", "environb", "getenv", "getenvb"}:
            lines.append(node.lineno)
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "os" \
                and node.attr in ("environ", "environb", "getenv", "getenvb"):
            parent = parents.get(node)
            written = isinstance(parent, ast.Subscript) and isinstance(parent.ctx, ast.Store)
            if not written:
                lines.append(node.lineno)
    return lines


@pytest.mark.parametrize("source, reads", [
    ('x = os.environ.get("GL_X")', True),
    ('x = os.getenv("GL_X")', True),
    ('x = os.environ["GL_X"]', True),
    ("env = dict(os.environ)", True),
    ("from os import environ", True),
    ('os.environ["HF_HUB_OFFLINE"] = "1"', False),
    ('x = setting("GL_X")', False),
])
def test_the_environment_scan_tells_reads_from_writes(source, reads):
    assert bool(environment_reads(source)) is reads


def test_only_app_config_reads_the_environment():
    offenders = [f"{path.relative_to(ROOT)}:{line}" for path in project_files({".py"})
                 if path != ROOT / "app" / "config.py" for line in environment_reads(path.read_text())]
    assert not offenders, offenders


def test_every_variable_named_in_the_code_is_declared():
    undeclared = {f"{path.relative_to(ROOT)}: {name}" for path in project_files(TEXT_SUFFIXES)
                  for name in GL_NAME.findall(path.read_text(encoding="utf-8")) if name not in SETTINGS}
    assert not undeclared, sorted(undeclared)


def test_every_declared_variable_is_used():
    texts = [p.read_text(encoding="utf-8") for p in project_files({".py"}) if p != ROOT / "app" / "config.py"]
    head, _, declarations_on = (ROOT / "app" / "config.py").read_text().partition("\n_DECLARED = (")
    texts += [head, declarations_on.partition("\nSETTINGS")[2],
              *(p.read_text(encoding="utf-8") for p in sorted((ROOT / "tests").rglob("conftest.py")))]
    unused = [name for name in SETTINGS if not any(f'"{name}"' in text for text in texts)]
    assert not unused, unused


def test_declarations_are_grouped_and_their_defaults_read_back():
    for declared in SETTINGS.values():
        assert declared.group in GROUPS and declared.help, declared.name
        if declared.default is not None and not declared.shown_default:
            # The documented default, typed in as a value, is the default itself.
            assert declared.kind.parse(declared.describe_default()) == declared.default, declared.name


def test_docs_are_rendered_from_the_declarations():
    written = (ROOT / DOCS_PATH).read_text(encoding="utf-8")
    assert written == render_docs(), "run `greenlight config docs > docs/configuration.md`"
    assert all(f"`{name}`" in written for name in SETTINGS)
    assert "docs/configuration.md" in (ROOT / "README.md").read_text()


def test_the_docs_check_command_fails_on_a_stale_file(monkeypatch, tmp_path):
    assert CliRunner().invoke(main, ["config", "docs", "--check"]).exit_code == 0
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "greenlight"\n')
    (tmp_path / "docs").mkdir()
    (tmp_path / DOCS_PATH).write_text(render_docs().replace("core", "kernel"))
    monkeypatch.setattr("app.config.source_checkout", lambda: tmp_path)
    stale = CliRunner().invoke(main, ["config", "docs", "--check"])
    assert stale.exit_code == 1 and "out of date" in stale.output


@pytest.mark.parametrize("name, raw", [
    ("GL_JOB_RETRIES", "abc"), ("GL_JOB_RETRIES", "-1"), ("GL_RETRY_INTERVALS", "2,ten"),
    ("GL_GATE_INLINE", "maybe"), ("GL_RENDER_SECONDS", "fast"), ("GL_FACE_INDEX", "hnsw"),
    ("GL_IMAGE_EMBED_REVIEW", "1.5"), ("GL_TERRITORIAL_SCOPE", "DE,Germany"),
])
def test_a_bad_value_is_an_error_naming_the_variable(name, raw):
    with pytest.raises(ConfigError, match=rf"^{name}={raw!r} is .*; expected "):
        setting(name, {name: raw})


def test_config_from_env_refuses_a_bad_value():
    with pytest.raises(ConfigError, match="GL_JOB_RETRIES='abc' is not an integer"):
        Config.from_env(env={"GL_JOB_RETRIES": "abc"})


def test_values_are_typed_and_empty_means_the_default():
    cfg = Config.from_env(env={"GL_RETRY_INTERVALS": "1, 5", "GL_GATE_INLINE": "off", "GL_RENDER_FPS": "30",
                               "GL_WORKER_POLL_S": "0.5", "GL_JOB_RETRIES": "  ", "REDIS_URL": ""})
    assert (cfg.retry_intervals, cfg.gate_inline, cfg.render_fps, cfg.worker_poll_s) == ((1, 5), False, 30, 0.5)
    assert cfg.job_retries == 3 and cfg.redis_url is None
    assert setting("GL_TERRITORIAL_SCOPE", {"GL_TERRITORIAL_SCOPE": "fr, de,FR"}) == ("DE", "FR")
    assert setting("GL_FACE_EMBEDDER_KIND", {"GL_FACE_EMBEDDER_KIND": "ArcFace"}) == "arcface"


def test_settings_are_read_when_asked(monkeypatch):
    monkeypatch.setenv("GL_FACE_SCAN_NEAR_MARGIN", "0.2")
    assert setting("GL_FACE_SCAN_NEAR_MARGIN") == 0.2
    monkeypatch.delenv("GL_FACE_SCAN_NEAR_MARGIN")
    assert setting("GL_FACE_SCAN_NEAR_MARGIN") == 0.05


def test_an_undeclared_variable_cannot_be_read():
    with pytest.raises(KeyError, match="GL_NOT_A_SETTING is not declared"):
        setting("GL_NOT_A_SETTING")


# -- the instance folder ---------------------------------------------------------------------------------

def test_a_checkout_uses_its_own_instance_folder_from_any_directory(monkeypatch, tmp_path):
    monkeypatch.chdir(ROOT)
    from_root = Config.from_env(env={})
    monkeypatch.chdir(tmp_path)
    from_elsewhere = Config.from_env(env={})
    assert from_root.instance_dir == from_elsewhere.instance_dir == ROOT / "instance"
    assert from_elsewhere.database_url == f"sqlite:///{ROOT / 'instance' / 'greenlight.db'}"
    assert from_elsewhere.media_dir == ROOT / "instance" / "media"


def test_gl_instance_dir_wins(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    chosen = tmp_path / "chosen"
    assert Config.from_env(env={"GL_INSTANCE_DIR": str(chosen)}).instance_dir == chosen.resolve()
    assert instance_dir({"GL_INSTANCE_DIR": "here"}) == tmp_path.resolve() / "here"


def test_an_installed_copy_uses_the_user_data_folder(monkeypatch, tmp_path):
    package = tmp_path / "site-packages" / "app"
    package.mkdir(parents=True)
    assert instance_dir({"XDG_DATA_HOME": str(tmp_path / "data")}, package) == tmp_path / "data" / "greenlight"
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert instance_dir({}, package) == tmp_path / "home" / ".local" / "share" / "greenlight"
    # Another project's pyproject.toml next to the package does not make it a Greenlight checkout.
    (package.parent / "pyproject.toml").write_text('[project]\nname = "someone-else"\n')
    assert instance_dir({}, package) == tmp_path / "home" / ".local" / "share" / "greenlight"


def test_the_cli_names_the_same_instance_from_another_directory(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "GL_INSTANCE_DIR"} | {"PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-m", "app.cli", "config", "instance"], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=120, check=True).stdout
    assert out.strip() == str(ROOT / "instance")
    assert not (tmp_path / "instance").exists()
