"""profiles.yaml: strict validation names file, line and key; discovery order; ${VAR} expansion."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from opsconsole import config
from opsconsole.cli.main import main
from opsconsole.config import discover, load, load_profile, validate_all
from opsconsole.errors import ConfigError
from opsconsole.secret import Secret

GOOD = """\
default_profile: one
profiles:
  one:
    title: One
    drivers:
      pipeline:
        type: demo
        options:
          data_dir: ${DEMO_DIR_FOR_TEST:/tmp/x}
          batch_size: 7
    poll:
      services: 3
    alerts:
      table_files_max: 50
  two:
    drivers:
      pipeline:
        type: demo
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "profiles.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def error_of(path: Path, profile: str | None = None) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load(path).profile(profile)
    return info.value


def test_good_file_loads_with_defaults_and_overrides(tmp_path: Path) -> None:
    profile = load(write(tmp_path, GOOD)).profile()
    assert profile.name == "one"
    assert profile.poll["services"] == 3 and profile.poll["tables"] == config.DEFAULT_POLL["tables"]
    assert profile.alerts["table_files_max"] == 50
    assert profile.drivers[0].options["batch_size"] == 7
    assert profile.drivers[0].options["data_dir"] == "/tmp/x"


def test_env_expansion_with_and_without_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEMO_DIR_FOR_TEST", "/srv/demo")
    assert load(write(tmp_path, GOOD)).profile().drivers[0].options["data_dir"] == "/srv/demo"
    path = write(tmp_path, GOOD.replace("${DEMO_DIR_FOR_TEST:/tmp/x}", "${NOT_SET_ANYWHERE_42}"))
    err = error_of(path)
    assert "NOT_SET_ANYWHERE_42" in str(err) and err.line == 9 and err.key.endswith("options.data_dir")


def test_env_value_is_coerced_to_the_declared_type(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BATCH_FOR_TEST", "12")
    path = write(tmp_path, GOOD.replace("batch_size: 7", "batch_size: ${BATCH_FOR_TEST}"))
    assert load(path).profile().drivers[0].options["batch_size"] == 12


def test_unknown_profile_key_names_file_line_and_key(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("    title: One\n", "    title: One\n    colour: red\n"))
    err = error_of(path)
    assert err.path == str(path) and err.line == 5 and err.key == "profiles.one.colour"
    assert f"{path}:5: profiles.one.colour: unknown key 'colour'" in str(err)


def test_unknown_driver_option_lists_the_known_options(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("batch_size: 7", "batch_sise: 7"))
    err = error_of(path)
    assert err.line == 10 and "batch_sise" in str(err) and "batch_size" in str(err)


def test_wrong_type_is_reported(tmp_path: Path) -> None:
    err = error_of(write(tmp_path, GOOD.replace("batch_size: 7", "batch_size: lots")))
    assert err.line == 10 and "expected int, got str 'lots'" in str(err)
    err = error_of(write(tmp_path, GOOD.replace("services: 3", "services: 0.1")))
    assert err.key == "profiles.one.poll.services" and "at least" in str(err)


def test_unknown_driver_type_lists_known_drivers(tmp_path: Path) -> None:
    err = error_of(write(tmp_path, GOOD.replace("type: demo\n        options", "type: oracle\n        options")))
    assert err.line == 7 and "unknown driver type 'oracle'" in str(err) and "demo" in str(err) and "http" in str(err)


def test_missing_type_and_empty_drivers(tmp_path: Path) -> None:
    err = error_of(write(tmp_path, GOOD.replace("        type: demo\n        options:", "        options:")))
    assert err.key == "profiles.one.drivers.pipeline.type"
    bad = GOOD.replace("  two:\n    drivers:\n      pipeline:\n        type: demo\n", "  two:\n    title: x\n")
    err = error_of(write(tmp_path, bad), "two")
    assert "drivers" in str(err)


def test_unknown_profile_lists_known_profiles(tmp_path: Path) -> None:
    err = error_of(write(tmp_path, GOOD), "three")
    assert "unknown profile 'three'" in str(err) and "one, two" in str(err)


def test_duplicate_keys_and_syntax_errors_have_lines(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load(write(tmp_path, GOOD.replace("    title: One\n", "    title: One\n    title: Again\n")))
    assert info.value.line == 5 and "duplicate key" in str(info.value)
    with pytest.raises(ConfigError) as info:
        load(write(tmp_path, "profiles:\n  one: [unclosed\n"))
    assert info.value.line is not None and "invalid YAML" in str(info.value)


def test_discovery_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    user = Path(config.user_config_dir())
    assert discover() == config.packaged_profiles_path()
    user.mkdir(parents=True)
    (user / "profiles.yaml").write_text(GOOD)
    assert discover() == user / "profiles.yaml"
    (cwd / "profiles.yaml").write_text(GOOD)
    assert discover() == cwd / "profiles.yaml"
    explicit = write(tmp_path, GOOD)
    assert discover(explicit) == explicit
    with pytest.raises(ConfigError, match="file not found"):
        discover(tmp_path / "nope.yaml")


def test_secret_options_never_print() -> None:
    secret = Secret("dapi-123456")
    assert "dapi" not in repr(secret) and "dapi" not in str(secret) and "dapi" not in f"{secret}"
    assert secret.reveal() == "dapi-123456"


def test_shipped_profiles_exist_for_every_seed_platform(root: Path) -> None:
    names = load(root / "profiles.yaml").names
    assert {"demo", "ontos-prod", "azure-rt", "iceberg-local", "osaa-dev", "dataops"} <= set(names)
    assert load(root / "profiles.yaml").default_profile == "demo"


def test_every_shipped_profile_validates(root: Path) -> None:
    profiles = validate_all(root / "profiles.yaml")
    assert len(profiles) >= 6


def test_cli_reports_config_errors_with_exit_3_from_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, GOOD)
    assert main(["--config", str(path), "--profile", "zzz", "check"]) == 3  # Nagios UNKNOWN
    err = capsys.readouterr().err
    assert "unknown profile 'zzz'" in err and "one, two" in err and str(path) in err


def test_load_profile_uses_discovery(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path, GOOD)
    assert load_profile().name == "one"
