"""ftcli proves what it wrote (a manifest of sizes and hashes) before it replaces or deletes anything."""

import pytest

from ftcli.errors import UserError
from ftcli.ownership import (atomic_directory, check_output_file, record_output_file, require_replaceable, sign,
                             unproven)

MARKER = ".ftcli-test"


def signed_folder(root):
    folder = root / "out"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text("a")
    (folder / "sub" / "b.bin").write_bytes(b"\0" * 10)
    sign(folder, MARKER, {"kind": "test"})
    return folder


def test_a_signed_folder_is_all_proven(tmp_path):
    assert unproven(signed_folder(tmp_path), MARKER) == []


@pytest.mark.parametrize("change", ["added file", "added folder", "changed file", "same size other bytes", "link"])
def test_anything_added_or_changed_since_signing_is_unproven(tmp_path, change):
    folder = signed_folder(tmp_path)
    if change == "added file":
        (folder / "sub" / "notes.txt").write_text("mine")
        expected = ["sub/notes.txt"]
    elif change == "added folder":
        (folder / "photos").mkdir()
        (folder / "photos" / "1.jpg").write_bytes(b"x")
        expected = ["photos"]
    elif change == "changed file":
        (folder / "a.txt").write_text("longer")
        expected = ["a.txt"]
    elif change == "same size other bytes":
        (folder / "sub" / "b.bin").write_bytes(b"\1" * 10)
        expected = ["sub/b.bin"]
    else:
        (folder / "secrets").symlink_to(tmp_path)
        expected = ["secrets"]
    assert unproven(folder, MARKER) == expected
    with pytest.raises(UserError, match="ftcli did not write"):
        require_replaceable(folder, MARKER, "a folder")


@pytest.mark.parametrize("marker_text", ["", "{}", '{"created_by": "ftcli"}', "not json"])
def test_a_marker_without_ftcli_s_manifest_proves_nothing(tmp_path, marker_text):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / MARKER).write_text(marker_text)
    (folder / "thesis.tex").write_text("precious")
    assert unproven(folder, MARKER) == [MARKER, "thesis.tex"]


def test_atomic_directory_replaces_only_what_it_signed(tmp_path):
    target = tmp_path / "export"
    with atomic_directory(target, marker=MARKER) as staging:
        (staging / "model.txt").write_text("v1")
    with atomic_directory(target, marker=MARKER) as staging:
        (staging / "model.txt").write_text("v2")
    assert (target / "model.txt").read_text() == "v2"
    (target / "keep.txt").write_text("user's")
    with pytest.raises(UserError, match="keep.txt"):
        with atomic_directory(target, marker=MARKER) as staging:
            (staging / "model.txt").write_text("v3")
    assert (target / "keep.txt").read_text() == "user's" and (target / "model.txt").read_text() == "v2"
    assert [p.name for p in tmp_path.iterdir()] == ["export"]  # no staging folder left behind


def test_atomic_directory_without_a_marker_replaces_only_cache_folders(tmp_path, monkeypatch):
    monkeypatch.setenv("FTCLI_CACHE", str(tmp_path / "cache"))
    outside = tmp_path / "docs"
    outside.mkdir()
    (outside / "keep.txt").write_text("user's")
    with pytest.raises(UserError, match="not in ftcli's cache"):
        with atomic_directory(outside):
            pass
    assert (outside / "keep.txt").is_file()
    cached = tmp_path / "cache" / "models" / "x"
    cached.mkdir(parents=True)
    (cached / "stale").write_text("half")
    with atomic_directory(cached) as staging:
        (staging / "fresh").write_text("whole")
    assert [p.name for p in cached.iterdir()] == ["fresh"]


def test_an_output_file_never_replaces_an_input(tmp_path):
    data = tmp_path / "in.jsonl"
    data.write_text('{"text": "x"}\n')
    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.json").write_text("{}")
    for output in (data, run / "metrics.json", run / "model" / "new.json"):
        with pytest.raises(UserError, match="would overwrite the input"):
            check_output_file(output, overwrite=True, inputs=[data, run])


def test_an_existing_output_is_replaced_only_with_overwrite_and_only_if_ftcli_wrote_it(tmp_path, monkeypatch):
    monkeypatch.setenv("FTCLI_CACHE", str(tmp_path / "cache"))
    theirs = tmp_path / "report.json"
    theirs.write_text("the user's")
    with pytest.raises(UserError) as refused:
        check_output_file(theirs, overwrite=False)
    assert "--overwrite" not in str(refused.value)  # never steer towards replacing a file ftcli did not write
    with pytest.raises(UserError, match="did not write"):
        check_output_file(theirs, overwrite=True)
    ours = tmp_path / "predictions.json"
    ours.write_text("[]")
    record_output_file(ours)
    with pytest.raises(UserError, match="pass --overwrite"):
        check_output_file(ours, overwrite=False)
    check_output_file(ours, overwrite=True)
    ours.write_text("[1]")  # edited since: no longer provably ftcli's
    with pytest.raises(UserError, match="did not write"):
        check_output_file(ours, overwrite=True)


def test_a_latest_pointer_outside_the_run_is_not_followed(tmp_path):
    from ftcli.checkpoints import STATE_FILE, CheckpointStore

    store = CheckpointStore(tmp_path / "run")
    own = store.root / "step-00000004"
    own.mkdir(parents=True)
    (own / STATE_FILE).write_text("{}")
    elsewhere = tmp_path / "elsewhere" / "step-00000009"
    elsewhere.mkdir(parents=True)
    (elsewhere / STATE_FILE).write_text("{}")
    for pointer in ("../../elsewhere/step-00000009", str(elsewhere), "step-00000009"):
        (store.root / "latest").write_text(pointer)
        assert store.latest() == own
    (store.root / "step-00000009").symlink_to(elsewhere)  # a link posing as a checkpoint
    assert store.latest() == own


def test_a_failed_atomic_write_leaves_no_partial_file(tmp_path, monkeypatch):
    import errno
    from pathlib import Path

    from ftcli.paths import write_text_atomically

    target = tmp_path / "predictions.json"
    target.write_text("old")
    real = Path.write_text

    def full_disk(self, *args, **kwargs):
        real(self, "half")
        raise OSError(errno.ENOSPC, "No space left on device", str(self))

    monkeypatch.setattr(Path, "write_text", full_disk)
    with pytest.raises(OSError):
        write_text_atomically(target, "new")
    monkeypatch.undo()
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["predictions.json"]


def test_a_full_disk_is_one_line_not_an_internal_error(cli, tmp_path, monkeypatch):
    import errno

    import ftcli.cli.data

    def full_disk(*args, **kwargs):
        try:
            raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "cache" / "x.arrow"))
        except OSError as err:
            raise RuntimeError("arrow could not write the file") from err

    monkeypatch.setattr("ftcli.data_check.check_data", full_disk)
    (tmp_path / "x.jsonl").write_text('{"text": "a", "label": "b"}\n')
    result = cli("data", "check", tmp_path / "x.jsonl", "--task", "classification")
    assert result.exit_code == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "the disk is full (writing" in lines[0] and "internal error" not in lines[0]
