"""The README is part of the interface: every command and option must be in it."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest

from aggregator.cli import cli

README = (Path(__file__).resolve().parents[1] / "README.md").read_text("utf-8")
COMMANDS = sorted(cli.commands)


def test_readme_has_the_two_setup_commands() -> None:
    assert "make demo" in README
    assert "make test" in README


@pytest.mark.parametrize("name", COMMANDS)
def test_command_is_documented(name: str) -> None:
    assert re.search(rf"`newsagg {name}\b", README), f"`newsagg {name}` is missing from README.md"


def _options(command: click.Command) -> list[str]:
    names = []
    for param in command.params:
        if isinstance(param, click.Option):
            names += [o for o in param.opts if o.startswith("--") and o != "--help"]
    return names


@pytest.mark.parametrize(
    ("name", "option"),
    [("", o) for o in _options(cli) if o != "--version"]
    + [(n, o) for n in COMMANDS for o in _options(cli.commands[n])],
)
def test_option_is_documented(name: str, option: str) -> None:
    assert re.search(rf"{re.escape(option)}\b", README), (
        f"{name} {option} is missing from README.md"
    )


def test_every_command_help_ends_with_an_example() -> None:
    for name in COMMANDS:
        help_text = cli.commands[name].help or ""
        assert "Example: newsagg" in help_text, name


def test_make_targets_in_readme_exist() -> None:
    makefile = (Path(__file__).resolve().parents[1] / "Makefile").read_text("utf-8")
    for target in set(re.findall(r"make ([a-z-]+)", README)):
        assert re.search(rf"^{target}:", makefile, re.M), f"make {target} is not in the Makefile"


def test_readme_schema_is_the_live_schema() -> None:
    from aggregator.store import Store

    block = re.search(r"<!-- schema:start -->\n```sql\n(.*?)```\n<!-- schema:end -->", README, re.S)
    assert block, "README.md has no schema block"
    with Store(":memory:") as store:
        live = store.schema_sql()
    assert block.group(1) == live, (
        "README.md's schema is out of date: paste `newsagg schema` between the schema markers"
    )


def test_readme_python_example_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from aggregator.dates import to_utc_string, utc_now
    from aggregator.store import Store
    from tests.test_store import row

    block = re.search(r"### From Python\n.*?```python\n(.*?)```", README, re.S)
    assert block, "README.md has no Python example"
    monkeypatch.chdir(tmp_path)
    now = utc_now()
    with Store(tmp_path / "data" / "news.db") as store:
        store.upsert_articles(
            [
                row(title="氢能示范项目", published_at=to_utc_string(now)),
                row(url="https://e.com/2", canonical_url="https://e.com/2", title="光伏电站"),
            ],
            now,
        )
    exec(compile(block.group(1), "README.md", "exec"), {})
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].endswith("example 氢能示范项目")
    assert printed[1] == "1 ['example'] 光伏电站"
