"""Every catalogue entry is checked, not only that it is translated (issue 24)."""

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).parents[1] / "scripts" / "check_catalogues.py"


def load():  # noqa: ANN201
    spec = importlib.util.spec_from_file_location("check_catalogues", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_no_entry_carries_a_glued_english_sentence_or_lost_placeholder():
    assert load().problems() == []


def test_the_check_finds_a_glued_sentence(tmp_path):
    for lang, text in (
        ("be", "Гэта зараз немагчыма.This copy is more than a day old."),
        ("ru", "Сейчас это невозможно."),
        ("en", "This cannot be done now."),
    ):
        folder = tmp_path / lang / "LC_MESSAGES"
        folder.mkdir(parents=True)
        (folder / "messages.po").write_text(
            f'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n\n'
            f'msgid "This cannot be done now."\nmsgstr "{text}"\n',
            encoding="utf-8",
        )
    found = load().problems(tmp_path)
    assert len(found) == 1 and found[0].startswith("be: Latin words")


def test_the_check_finds_a_word_the_glossary_rules_out(tmp_path):
    for lang, text in (
        ("be", "Суцэльнае кольца: праверана. Прапанаваць адхіліць мадэратара"),
        ("ru", "Не больше 280 знаков."),
        ("en", "Solid ring: checked."),
    ):
        folder = tmp_path / lang / "LC_MESSAGES"
        folder.mkdir(parents=True)
        (folder / "messages.po").write_text(
            f'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n\n'
            f'msgid "Solid ring: checked."\nmsgstr "{text}"\n',
            encoding="utf-8",
        )
    found = load().problems(tmp_path)
    assert [f.split(" in ")[0] for f in found] == [
        "be: 'кольца'",
        "be: 'адхіліць мадэратара'",
        "ru: 'знаков'",
    ]
