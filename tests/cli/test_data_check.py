"""`ftcli data check` reports every problem in one pass, each as `problem: FILE row N [column C]: what`
(the first 20 of each kind on the terminal, all of them in --output), reads a JSON Lines file
around its bad lines, finds repeated rows and rows with the same input but different labels,
and counts lengths in a model's tokens with --model. Training still stops at the first bad line."""

from __future__ import annotations

import json
import re

import pytest

from tests.cli.test_finetune_cli import assert_user_error, no_run_left
from tests.conftest import ner_rows, sentiment_rows, write_jsonl

BAD_LINES = {3: '{"text": "the film was", "label": ', 10: "[1, 2, 3]", 17: "not json at all"}


def jsonl_with_bad_lines(path, rows: list[dict], bad: dict[int, str]) -> object:
    """`rows` as JSON Lines with the lines `bad` (line number -> text) put in among them."""
    lines, good = [], iter(rows)
    for number in range(1, len(rows) + len(bad) + 1):
        lines.append(bad[number] if number in bad else json.dumps(next(good)))
    path.write_text("\n".join(lines) + "\n")
    return path


def problem_lines(result) -> list[str]:
    return [line for line in result.stdout.splitlines() if line.startswith("problem: ")]


def check(cli, tmp_path, data, task="classification", *extra):
    result = cli("data", "check", data, "--task", task, "--output", tmp_path / "report.json", "--overwrite", *extra)
    return result, json.loads((tmp_path / "report.json").read_text())


def test_every_bad_line_is_reported_and_the_other_rows_summarised(cli, tmp_path):
    rows = sentiment_rows(20)
    rows[12]["text"] = ""  # line 15: after two bad lines, still named by its line
    data = jsonl_with_bad_lines(tmp_path / "bad.jsonl", rows, BAD_LINES)
    result, report = check(cli, tmp_path, data)
    assert result.exit_code == 2, result.stderr
    lines = problem_lines(result)
    assert any(re.match(r"problem: \S*bad\.jsonl row 3 column \d+: is not valid JSON", line) for line in lines), lines
    assert any("bad.jsonl row 10: is not a JSON object but a JSON array" in line for line in lines), lines
    assert any(re.search(r"bad\.jsonl row 17 column 1: is not valid JSON", line) for line in lines), lines
    assert any("bad.jsonl row 15: has an empty or non-text 'text'" in line for line in lines), lines
    assert report["rows"] == 20 and report["skipped_lines"] == 3
    assert sum(report["labels"].values()) == 20
    assert report["problem_counts"] == {"lines that are not valid JSON": 2, "lines that are not a JSON object": 1,
                                        "rows with an empty or non-text value": 1}
    assert "No problems found" not in result.stdout and "3 unreadable lines left out" in result.stdout


def test_rows_after_bad_first_lines_keep_their_line_numbers(cli, tmp_path):
    rows = sentiment_rows(10)
    rows[2]["label"] = None  # line 5
    data = jsonl_with_bad_lines(tmp_path / "first.jsonl", rows, {1: "oops", 2: "{"})
    result, report = check(cli, tmp_path, data)
    assert result.exit_code == 2
    assert any("first.jsonl row 5: has an empty 'label'" in line for line in report["problems"]), report["problems"]


def test_training_on_the_same_file_still_stops_at_the_first_bad_line(cli, tmp_path, tiny_bert):
    data = jsonl_with_bad_lines(tmp_path / "bad.jsonl", sentiment_rows(40), BAD_LINES)
    out = tmp_path / "run"
    result = cli("finetune", "classification", "--model", tiny_bert, "--train", data, "--output-dir", out,
                 "--epochs", "1", "--max-length", "16")
    assert_user_error(result, "bad.jsonl", "line 3 is not valid JSON", "at column")
    assert "line 10" not in result.stderr and no_run_left(out)


def test_repeated_rows_are_warnings_and_conflicting_labels_problems(cli, tmp_path):
    rows = sentiment_rows(12)
    rows[5] = dict(rows[1])  # row 6 repeats row 2
    rows[9] = dict(rows[1])  # and so does row 10
    rows[7] = {"text": rows[3]["text"], "label": "negative" if rows[3]["label"] == "positive" else "positive"}
    result, report = check(cli, tmp_path, write_jsonl(tmp_path / "dups.jsonl", rows))
    assert result.exit_code == 2
    assert any("dups.jsonl row 2: is repeated in rows 6, 10 (the same 'text' and 'label')" in line
               for line in result.stdout.splitlines() if line.startswith("warning: ")), result.stdout
    conflict = [line for line in problem_lines(result) if "has the same 'text' as row 8" in line]
    assert len(conflict) == 1 and "dups.jsonl row 4:" in conflict[0] and "(row 4)" in conflict[0], result.stdout
    assert report["problem_counts"] == {"inputs with conflicting labels": 1}
    assert report["warning_counts"] == {"sets of repeated rows": 1}


def test_repeated_rows_alone_do_not_fail(cli, tmp_path):
    rows = sentiment_rows(8)
    result, report = check(cli, tmp_path, write_jsonl(tmp_path / "d.jsonl", rows + rows[:2]))
    assert result.exit_code == 0, result.stdout
    assert report["problems"] == [] and len(report["warnings"]) == 2 and "No problems found" in result.stdout


def test_labels_differing_only_in_case_are_found(cli, tmp_path):
    rows = [{**row, "label": "Pos" if i == 4 else ("pos" if row["label"] == "positive" else "neg")}
            for i, row in enumerate(sentiment_rows(10))]
    result, report = check(cli, tmp_path, write_jsonl(tmp_path / "case.jsonl", rows))
    assert result.exit_code == 2
    assert report["labels"]["Pos"] == 1
    line = next(line for line in problem_lines(result) if "differ only in case or spaces" in line)
    assert "'Pos' = 'pos'" in line or "'pos' = 'Pos'" in line


def test_many_problems_of_a_kind_are_capped_on_the_terminal_and_all_in_the_json(cli, tmp_path):
    rows = [{**row, "label": None if i % 3 == 0 else row["label"]} for i, row in enumerate(sentiment_rows(64))]
    result, report = check(cli, tmp_path, write_jsonl(tmp_path / "empty.jsonl", rows))
    assert result.exit_code == 2
    shown = [line for line in problem_lines(result) if "has an empty 'label'" in line]
    assert len(shown) == 20 and "empty.jsonl row 1: has an empty 'label'" in shown[0]
    assert "empty.jsonl row 58: has an empty 'label'" in shown[-1]
    assert "... and 2 more rows with an empty label" in result.stdout
    assert len(report["problems"]) == 22 and report["problem_counts"] == {"rows with an empty label": 22}
    assert "22 problems" in result.stdout


def test_ner_and_qa_rows_are_all_reported(cli, tmp_path):
    rows = ner_rows(12)
    rows[2]["tags"] = rows[2]["tags"][:-1]
    rows[7]["tags"] = rows[7]["tags"] + ["O"]
    result, report = check(cli, tmp_path, write_jsonl(tmp_path / "ner.jsonl", rows), "ner")
    assert result.exit_code == 2
    assert report["problem_counts"] == {"rows with more or fewer tags than tokens": 2}
    assert [line.split(":")[0] for line in report["problems"]] == [
        f"{tmp_path / 'ner.jsonl'} row 3 column 'tags'", f"{tmp_path / 'ner.jsonl'} row 8 column 'tags'"]

    context = "alice lives in paris and bob lives in rome"
    qa = [{"id": f"q{i}", "question": f"where does alice live {i}?", "context": context,
           "answers": {"text": ["paris"], "answer_start": [15 if i not in (1, 4) else 3]}} for i in range(6)]
    result, report = check(cli, tmp_path, write_jsonl(tmp_path / "qa.jsonl", qa), "qa")
    assert result.exit_code == 2
    assert [re.search(r"qa\.jsonl row (\d+) column 'answers': ", p).group(1) for p in report["problems"]] == ["2", "5"]
    assert all("answer_start 3 does not match the context" in p for p in report["problems"])


def test_lengths_in_words_without_a_model(cli, tmp_path):
    result, report = check(cli, tmp_path, write_jsonl(tmp_path / "d.jsonl", sentiment_rows(10)))
    assert result.exit_code == 0
    assert "Lengths in words" in result.stdout and report["length_unit"] == "words"
    assert report["lengths"]["text"]["p50"] == 5 and report["model"] is None


def test_model_counts_lengths_in_its_tokens(cli, tmp_path, tiny_bert):
    # the tiny vocabulary splits "playing" into play ##ing; "zebra" is one [UNK]
    rows = [{"text": "the film was playing", "label": "a"}, {"text": "zebra", "label": "b"},
            {"text": " ".join(["playing"] * 10), "label": "a"}, {"text": "good film", "label": "b"}]
    data = write_jsonl(tmp_path / "d.jsonl", rows)
    result, report = check(cli, tmp_path, data, "classification", "--model", tiny_bert)
    assert result.exit_code == 0, result.stdout + result.stderr
    assert report["lengths"]["text"]["p0"] == 1 and report["lengths"]["text"]["p100"] == 20
    assert report["max_length"] == 128 and report["longer_than_max_length"] == 0  # the recipe's max_length
    assert "tokens" in report["length_unit"] and "Every row fits in max_length 128 tokens" in result.stdout

    result, report = check(cli, tmp_path, data, "classification", "--model", tiny_bert, "--max-length", "7")
    assert result.exit_code == 0  # long rows are a warning, not a problem
    assert report["longer_than_max_length"] == 1  # 20 tokens + [CLS] and [SEP]; 5 + 2 = 7 fits
    assert "1 row (25.0%) is longer than max_length 7 tokens and will be truncated" in result.stdout


def test_max_length_without_a_model_is_refused(cli, tmp_path):
    result = cli("data", "check", write_jsonl(tmp_path / "d.jsonl", sentiment_rows(4)), "--task", "classification",
                 "--max-length", "8")
    assert_user_error(result, "--max-length 8", "give --model")


@pytest.mark.integration
def test_a_catalogue_model_alias_counts_tokens_offline(cli, tmp_path, minilm_dir):
    result, report = check(cli, tmp_path, write_jsonl(tmp_path / "d.jsonl", sentiment_rows(10)),
                           "classification", "-m", "minilm")
    assert result.exit_code == 0, result.stderr
    assert report["model"] == "minilm" and "Lengths in minilm tokens" in result.stdout
