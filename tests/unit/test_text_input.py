"""Plain-text input (.txt files and folders of them) and the sentence splitter."""

from __future__ import annotations

import pytest

from ftcli.data import load_splits, read_file
from ftcli.data.text import split_documents, split_sentences
from ftcli.errors import UserError

# -- documents ---------------------------------------------------------------------------------


def test_txt_file_is_one_row_per_document(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text("\ufeffFirst document.\nIts second line.\n\n\n  \t\nSecond one.  \r\n\r\nThird\n\n")
    dataset = read_file(path)
    assert dataset.column_names == ["text"]
    assert dataset["text"] == ["First document.\nIts second line.", "Second one.", "Third"]


def test_split_documents_drops_empty_ones():
    assert split_documents("\n\n  \n") == []
    assert split_documents("one") == ["one"]
    assert split_documents("a\n \nb\n\n\n\nc") == ["a", "b", "c"]
    assert split_documents("a\n\u00a0\u2003\nb\n\tc") == ["a", "b\n\tc"]


def test_folder_of_txt_files_reads_every_file_in_order(tmp_path):
    (tmp_path / "b.txt").write_text("b one\n\nb two\n")
    (tmp_path / "a.txt").write_text("a one\n")
    (tmp_path / "empty.txt").write_text("\n\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "c.txt").write_text("c one\n\n\nc two")
    (tmp_path / "notes.md").write_text("not read")
    (tmp_path / ".hidden.txt").write_text("not read")
    dataset = read_file(tmp_path)
    assert dataset.column_names == ["text"]
    assert dataset["text"] == ["a one", "b one", "b two", "c one", "c two"]


def test_txt_files_work_with_load_splits(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text("\n\n".join(f"Document number {i}. It has two sentences." for i in range(40)))
    splits = load_splits(str(path), None, eval_fraction=0.1, seed=0)
    assert splits.train.num_rows == 36 and splits.eval.num_rows == 4
    assert not set(splits.train["text"]) & set(splits.eval["text"])
    folder_splits = load_splits(str(tmp_path), str(path), eval_fraction=0.1, seed=0, limit_train=5)
    assert folder_splits.train.num_rows == 5 and folder_splits.eval.num_rows == 40


@pytest.mark.parametrize("content", ["", "\n  \n\t\n"])
def test_empty_txt_file(tmp_path, content):
    path = tmp_path / "empty.txt"
    path.write_text(content)
    with pytest.raises(UserError, match=r"empty\.txt holds no text"):
        read_file(path)


def test_txt_file_that_is_not_utf8(tmp_path):
    path = tmp_path / "latin.txt"
    path.write_bytes("first line\n\ncaf\u00e9 au lait\n".encode("latin-1"))
    with pytest.raises(UserError, match=r"latin\.txt: line 3, column 4 is not UTF-8 text \(byte 0xe9\)"):
        read_file(path)


def test_folder_with_a_file_that_is_not_utf8(tmp_path):
    (tmp_path / "a.txt").write_text("fine\n")
    (tmp_path / "b.txt").write_bytes(b"\xff\xfebad")
    with pytest.raises(UserError, match=r"b\.txt: line 1, column 1 is not UTF-8"):
        read_file(tmp_path)


def test_folder_whose_files_hold_no_text(tmp_path):
    (tmp_path / "a.txt").write_text("")
    (tmp_path / "b.txt").write_text("\n\n")
    with pytest.raises(UserError, match="holds no text: its 2 .txt files are empty"):
        read_file(tmp_path)


def test_folder_without_txt_files(tmp_path):
    (tmp_path / "notes.md").write_text("markdown is not read")
    with pytest.raises(UserError, match="has no images.*a text corpus is a folder of .txt files"):
        read_file(tmp_path)


def test_folder_without_txt_files_direct(tmp_path):
    from ftcli.data.readers import read_text_folder

    with pytest.raises(UserError, match="has no .txt files"):
        read_text_folder(tmp_path)


def test_image_folder_with_notes_stays_an_image_folder(tmp_path):
    """Stray .txt files in class subfolders do not make an image folder a text corpus."""
    (tmp_path / "cats").mkdir()
    (tmp_path / "cats" / "notes.txt").write_text("no images here")
    with pytest.raises(UserError, match="has no images"):
        read_file(tmp_path)


# -- sentences ---------------------------------------------------------------------------------


@pytest.mark.parametrize("text, expected", [
    ("He left. She stayed.", ["He left.", "She stayed."]),
    ("Really? Yes! Fine.", ["Really?", "Yes!", "Fine."]),
    ("It ended in 2004. 2005 was better.", ["It ended in 2004.", "2005 was better."]),
    ('He said "stop." "Why?" she asked.', ['He said "stop."', '"Why?" she asked.']),
    ("It rained (a lot.) Then it stopped.", ["It rained (a lot.)", "Then it stopped."]),
    ("Mr. Smith met Mrs. Jones and Dr. Who on St. James St. today.",
     ["Mr. Smith met Mrs. Jones and Dr. Who on St. James St. today."]),
    ("Fruit, e.g. Apples, and i.e. Pears. Done.", ["Fruit, e.g. Apples, and i.e. Pears.", "Done."]),
    ("Born in the U.S. Army base. J. R. R. Tolkien wrote.", ["Born in the U.S. Army base.", "J. R. R. Tolkien wrote."]),
    ("the end. lower case goes on", ["the end. lower case goes on"]),
    ("Wait... What?", ["Wait...", "What?"]),
    ("3.14 is pi. Version 2.0 Released", ["3.14 is pi.", "Version 2.0 Released"]),
    ("no punctuation at all", ["no punctuation at all"]),
    ("", []),
    ("   \n  ", []),
])
def test_split_sentences(text, expected):
    assert split_sentences(text) == expected


def test_line_breaks():
    # A line ending a sentence ends it; other lines (verse, headings) join with a space.
    text = "BERNARDO\nWho's there?\nFRANCISCO\nNay, answer me:\nstand, and unfold yourself.\nlowercase next line."
    assert split_sentences(text) == ["BERNARDO Who's there?", "FRANCISCO Nay, answer me: stand, and unfold yourself.",
                                     "lowercase next line."]
    assert split_sentences("Title\n\nBody text here.") == ["Title", "Body text here."]
    assert split_sentences("A headline.\nAnother headline\r\nLast one.") == ["A headline.", "Another headline Last one."]
    assert split_sentences("Call Mr.\nSmith now.") == ["Call Mr. Smith now."]


def test_whitespace_is_collapsed():
    assert split_sentences("  Two   spaces.\tA  tab. ") == ["Two spaces.", "A tab."]
