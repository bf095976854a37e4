"""HTML report builder: content, relative links, escaping, atomic write."""

from ioflyby.report import Report


def test_report_links_images_relative_and_escapes(tmp_path):
    image = tmp_path / "img" / "io.png"
    image.parent.mkdir()
    image.write_bytes(b"\x89PNG")
    report = Report("PJ57 <twin>", "subtitle")
    report.section("Accuracy").text("a & b").table("t", [{"metric": "rms", "value": 0.25, "ok": True}]).figure(
        image, "Io"
    )
    page = report.write(tmp_path / "out" / "report.html")
    text = page.read_text()
    assert "PJ57 &lt;twin&gt;" in text and "a &amp; b" in text
    assert "src='../img/io.png'" in text
    assert "<td>0.25</td>" in text and 'class="ok"' in text
    assert [p.name for p in page.parent.iterdir()] == ["report.html"]  # no temporary left
