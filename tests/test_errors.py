from featuremaps.errors import first_line


def test_first_line_of_a_library_message():
    assert first_line(ValueError("\n  bad header  \nsecond line")) == "bad header"
    assert first_line(EOFError()) == "EOFError"
    assert first_line(OSError("x" * 500)) == "x" * 200
