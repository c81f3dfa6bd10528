"""The V4A patch format: parsing, context matching, and errors that name the hunk."""

from __future__ import annotations

from pathlib import Path

import pytest

from gptoss_agent.tools.coding.v4a import FileSystem, PatchError, apply_patch, parse_patch

APP = """def greet(name):
    return "hello " + name


def add(a, b):
    return a - b
"""


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text(APP)
    (tmp_path / "old.txt").write_text("bye\n")
    return tmp_path


def test_add_update_delete_and_move(workspace: Path) -> None:
    patch = """*** Begin Patch
*** Add File: docs/notes.md
+# Notes
+
+done
*** Update File: src/app.py
*** Move to: src/main.py
@@ def add(a, b):
-    return a - b
+    return a + b
*** Delete File: old.txt
*** End Patch"""
    applied = apply_patch(patch, FileSystem(str(workspace)))
    assert [(c.kind, c.path, c.move_to) for c in applied] == [
        ("add", "docs/notes.md", None), ("update", "src/app.py", "src/main.py"),
        ("delete", "old.txt", None)]
    assert (workspace / "docs" / "notes.md").read_text() == "# Notes\n\ndone\n"
    assert (workspace / "src" / "main.py").read_text() == APP.replace("a - b", "a + b")
    assert not (workspace / "src" / "app.py").exists()
    assert not (workspace / "old.txt").exists()


def test_context_lines_tolerate_trailing_whitespace(workspace: Path) -> None:
    trailing = "   "
    patch = f"""*** Begin Patch
*** Update File: src/app.py
@@
 def greet(name):{trailing}
-    return "hello " + name
+    return f"hello {{name}}"
*** End Patch"""
    apply_patch(patch, FileSystem(str(workspace)))
    assert 'return f"hello {name}"' in (workspace / "src" / "app.py").read_text()


def test_hunk_that_does_not_apply_is_named_and_nothing_is_written(workspace: Path) -> None:
    patch = """*** Begin Patch
*** Add File: new.txt
+x
*** Update File: src/app.py
@@ def greet(name):
-    return "hello " + name
+    return "hi " + name
@@ def add(a, b):
-    return a * b
+    return a + b
*** End Patch"""
    with pytest.raises(PatchError, match=r"src/app.py: hunk 2 does not apply.*\n    return a \* b"):
        apply_patch(patch, FileSystem(str(workspace)))
    assert not (workspace / "new.txt").exists(), "a failed patch writes nothing"
    assert (workspace / "src" / "app.py").read_text() == APP


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ("*** Update File: a\n*** End Patch", "must start with"),
        ("*** Begin Patch\n*** Add File: a\n+x", "must end with"),
        ("*** Begin Patch\n*** Add File: ../etc/passwd\n+x\n*** End Patch",
         "must not contain '..'"),
        ("*** Begin Patch\n*** Add File: /etc/passwd\n+x\n*** End Patch",
         "relative to the workspace"),
        ("*** Begin Patch\n*** Add File: a\nx\n*** End Patch", "starts with '+'"),
        ("*** Begin Patch\n*** Frobnicate: a\n*** End Patch", "expected '*** Add File:'"),
        ("*** Begin Patch\n*** End Patch", "changes no file"),
    ],
)
def test_malformed_patches(patch: str, message: str) -> None:
    with pytest.raises(PatchError) as caught:
        parse_patch(patch)
    assert message in str(caught.value)


def test_symlink_escape_is_refused(workspace: Path, tmp_path_factory) -> None:
    outside = tmp_path_factory.mktemp("outside") / "secret.txt"
    outside.write_text("secret\n")
    (workspace / "link.txt").symlink_to(outside)
    patch = "*** Begin Patch\n*** Update File: link.txt\n@@\n-secret\n+owned\n*** End Patch"
    with pytest.raises(PatchError, match="resolves outside the workspace"):
        apply_patch(patch, FileSystem(str(workspace)))
    assert outside.read_text() == "secret\n"


def test_add_refuses_to_overwrite_and_update_needs_the_file(workspace: Path) -> None:
    files = FileSystem(str(workspace))
    with pytest.raises(PatchError, match="already exists"):
        apply_patch("*** Begin Patch\n*** Add File: old.txt\n+x\n*** End Patch", files)
    with pytest.raises(PatchError, match="does not exist"):
        apply_patch("*** Begin Patch\n*** Update File: nope.py\n@@\n-a\n+b\n*** End Patch", files)


def test_end_of_file_hunk_appends(workspace: Path) -> None:
    patch = ("*** Begin Patch\n*** Update File: old.txt\n@@\n bye\n+again\n"
             "*** End of File\n*** End Patch")
    apply_patch(patch, FileSystem(str(workspace)))
    assert (workspace / "old.txt").read_text() == "bye\nagain\n"


def test_insertion_after_an_anchor_goes_below_it(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text("def foo():\n    return 1\n")
    patch = "*** Begin Patch\n*** Update File: m.py\n@@ def foo():\n+    print('hi')\n*** End Patch"
    apply_patch(patch, FileSystem(str(tmp_path)))
    assert (tmp_path / "m.py").read_text() == "def foo():\n    print('hi')\n    return 1\n"


def test_crlf_files_keep_their_line_endings(tmp_path: Path) -> None:
    (tmp_path / "w.txt").write_bytes(b"one\r\ntwo\r\n")
    patch = "*** Begin Patch\n*** Update File: w.txt\n@@\n one\n-two\n+three\n*** End Patch"
    apply_patch(patch, FileSystem(str(tmp_path)))
    assert (tmp_path / "w.txt").read_bytes() == b"one\r\nthree\r\n"


def test_adding_to_an_empty_file(tmp_path: Path) -> None:
    (tmp_path / "e.txt").write_text("")
    apply_patch("*** Begin Patch\n*** Update File: e.txt\n@@\n+hello\n*** End Patch",
                FileSystem(str(tmp_path)))
    assert (tmp_path / "e.txt").read_text() == "hello\n"


def test_context_lines_keep_the_files_own_whitespace(tmp_path: Path) -> None:
    (tmp_path / "c.py").write_text("a = 1   \nb = 2\n")
    patch = "*** Begin Patch\n*** Update File: c.py\n@@\n a = 1\n-b = 2\n+b = 3\n*** End Patch"
    apply_patch(patch, FileSystem(str(tmp_path)))
    assert (tmp_path / "c.py").read_text() == "a = 1   \nb = 3\n"


def test_a_target_under_a_file_fails_before_any_write(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("x\n")
    patch = ("*** Begin Patch\n*** Add File: first.txt\n+1\n*** Add File: a.txt/inner\n+2\n"
             "*** End Patch")
    with pytest.raises(PatchError, match="is a file, not a folder"):
        apply_patch(patch, FileSystem(str(tmp_path)))
    assert not (tmp_path / "first.txt").exists()
