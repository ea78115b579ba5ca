"""Text extraction for the benchmark dataset: English units (sentences or short
passages of 5-60 words) from documentation, dictionaries and literature that
Debian packages install. Each extractor yields strings; `units()` cleans them,
keeps whole units of 5-60 words and splits longer ones into sentences.
"""
import base64
import glob
import gzip
import html.parser
import os
import re
import subprocess

MIN_WORDS, MAX_WORDS = 5, 60

# source label -> (Debian package, share of the pool in percent)
SOURCES = {
    "python-doc": ("python3.11-doc", 13.0),
    "postgresql-doc": ("postgresql-doc-15", 11.0),
    "linux-doc": ("linux-doc-6.1", 19.0),
    "debian-handbook": ("debian-handbook", 4.3),
    "debian-reference": ("debian-reference-en", 2.2),
    "bible-kjv": ("bible-kjv-text", 10.1),
    "fortunes": ("fortunes", 11.2),
    "wordnet": ("wordnet-base", 10.7),
    "gcide": ("dict-gcide", 9.3),
    "foldoc": ("dict-foldoc", 4.4),
    "jargon": ("dict-jargon", 3.6),
    "devil": ("dict-devil", 1.2),
}
# programs used to read a source (their package versions go into the README)
HELPERS = {"bible-kjv": "bible-kjv"}

BLOCK_TAGS = {"p", "li", "dd", "dt", "div", "td", "th", "tr", "table", "h1", "h2", "h3", "h4", "h5", "h6",
              "br", "blockquote", "section", "ul", "ol", "dl", "figure", "caption", "title", "header", "footer"}
SKIP_TAGS = {"pre", "script", "style", "nav", "head", "math", "svg"}
ABBREV = re.compile(r"(?:\b(?:e\.g|i\.e|etc|vs|cf|Mr|Mrs|Dr|St|No|Fig|Sec|approx|resp|viz|al)\.|\b[A-Za-z]\.)$")
SENT_END = re.compile(r"(?<=[.!?])[\"'\u201d\u2019)\]]*\s+(?=[\"'\u201c\u2018(\[]?[A-Z0-9])")
CODEY = re.compile(r"[{}<>=;\\|`$#@^~]|::|->|\(\)|\w_\w|^\W+$|^[-/.]\w|\w/\w+/")
URL = re.compile(r"https?://|ftp://|www\.|\.html\b|\.com\b|\.org\b")


class _Html(html.parser.HTMLParser):
    """Collects the text of block elements, skipping code blocks and navigation."""

    SKIP_DIV = ("highlight", "sphinxsidebar", "related", "footer", "navheader", "navfooter")

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.out, self.buf, self.skip, self.divs = [], [], 0, []

    def flush(self):
        text = "".join(self.buf).strip()
        if text and not self.skip:
            self.out.append(text)
        self.buf = []

    def handle_starttag(self, tag, attrs):
        if tag in SKIP_TAGS:
            self.flush()
            self.skip += 1
            return
        if tag == "div":
            cls = dict(attrs).get("class") or ""
            hidden = any(k in cls for k in self.SKIP_DIV)
            self.divs.append(hidden)
            self.flush()
            self.skip += hidden
            return
        if tag in BLOCK_TAGS:
            self.flush()

    def handle_endtag(self, tag):
        if tag in SKIP_TAGS:
            self.buf = []
            self.skip = max(0, self.skip - 1)
            return
        if tag == "div":
            self.flush()
            if self.divs and self.divs.pop():
                self.skip -= 1
            return
        if tag in BLOCK_TAGS:
            self.flush()

    def handle_data(self, data):
        if not self.skip:
            self.buf.append(data)


def html_texts(paths):
    for path in paths:
        opener = gzip.open if path.endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8", errors="replace") as f:
            p = _Html()
            p.feed(f.read())
            p.close()
            p.flush()
            yield from p.out


def _html_files(root, exclude=()):
    files = sorted(glob.glob(os.path.join(root, "**", "*.html"), recursive=True))
    bad = ("/_sources/", "/_static/", "/_downloads/", "/_images/", "genindex", "py-modindex", "/search.html")
    return [f for f in files if not any(b in f for b in bad) and not any(re.search(e, f) for e in exclude)]


def python_doc():
    return html_texts(_html_files("/usr/share/doc/python3.11/html", [r"/whatsnew/changelog\.html$"]))


def postgresql_doc():
    return html_texts(_html_files("/usr/share/doc/postgresql-doc-15/html", [r"/release-\d"]))


def linux_doc():
    return html_texts(_html_files("/usr/share/doc/linux-doc-6.1/html", [r"/translations/"]))


def debian_handbook():
    return html_texts(_html_files("/usr/share/doc/debian-handbook/html/en-US"))


def debian_reference():
    return html_texts(sorted(glob.glob("/usr/share/doc/debian-reference-en/docs/*.en.html")))


def bible_kjv():
    """Verses, decoded by the `bible` program (bible-kjv) from bible-kjv-text."""
    out = subprocess.run(["bible", "-l200", "Gen1:1-Rev22:21"], capture_output=True, text=True, check=True).stdout
    verse = []
    for line in out.splitlines():
        m = re.match(r"^\s+\d+ (.*)$", line)
        if m or not line.strip() or not line.startswith(" "):
            if verse:
                yield " ".join(verse)
            verse = [m.group(1)] if m else []
        else:
            verse.append(line.strip())
    if verse:
        yield " ".join(verse)


def fortunes():
    skip = {"ascii-art", "translate-me"}
    for path in sorted(glob.glob("/usr/share/games/fortunes/*.u8")):
        if os.path.basename(path)[:-3] in skip:
            continue
        with open(path, encoding="utf-8", errors="replace") as f:
            for entry in f.read().split("\n%\n"):
                if "\b" not in entry:  # overstruck text
                    yield entry


def wordnet():
    """Definitions and usage examples from the synset glosses."""
    for pos in ("noun", "verb", "adj", "adv"):
        with open(f"/usr/share/wordnet/data.{pos}", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith(" ") or " | " not in line:
                    continue
                for part in line.split(" | ", 1)[1].split(";"):
                    part = part.strip().strip('"').strip()
                    if part:
                        yield part[0].upper() + part[1:]


_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def _b64(s):
    n = 0
    for c in s:
        n = n * 64 + _B64.index(c)
    return n


def dictd_entries(name):
    """Entry bodies of a dictd database (index offsets into the gzip text)."""
    with gzip.open(f"/usr/share/dictd/{name}.dict.dz", "rb") as f:
        data = f.read()
    seen = set()
    with open(f"/usr/share/dictd/{name}.index", encoding="utf-8", errors="replace") as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) < 3 or parts[0].startswith("00-database") or parts[0].startswith("00database"):
                continue
            off, size = _b64(parts[1]), _b64(parts[2])
            if off in seen:
                continue
            seen.add(off)
            yield data[off:off + size].decode("utf-8", errors="replace")


def dict_paragraphs(name):
    """Indented paragraphs of each entry (headword lines are not indented),
    without pronunciations, source tags, cross-reference braces, categories
    and numbering."""
    for body in dictd_entries(name):
        para = []
        for line in body.split("\n") + [""]:
            if line.strip() and line.startswith((" ", "\t")):
                para.append(line.strip())
                continue
            if para:
                t = " ".join(para)
                para = []
                if re.match(r"^(Syn|See also|See|Ant|Usage|Compare|Plural):?\s", t) or re.fullmatch(r"\(\d{4}-\d\d-\d\d\)", t):
                    continue
                t = re.sub(r"\\[^\\]{0,60}\\", " ", t)
                t = re.sub(r"\[(?:[^\]]*(?:Webster|WordNet|PJC|Obs|R\.|Colloq|Local|Prov)[^\]]*)\]", " ", t)
                t = re.sub(r"[{}]", "", t)
                t = re.sub(r"^<[^>]{1,60}>\s*", "", t)
                t = re.sub(r"^(?:\d{1,2}\.|\([a-z0-9]\))\s+", "", t)
                t = re.sub(r"^Note:\s+", "", t)
                yield t


EXTRACTORS = {
    "python-doc": python_doc,
    "postgresql-doc": postgresql_doc,
    "linux-doc": linux_doc,
    "debian-handbook": debian_handbook,
    "debian-reference": debian_reference,
    "bible-kjv": bible_kjv,
    "fortunes": fortunes,
    "wordnet": wordnet,
    "gcide": lambda: dict_paragraphs("gcide"),
    "foldoc": lambda: dict_paragraphs("foldoc"),
    "jargon": lambda: dict_paragraphs("jargon"),
    "devil": lambda: dict_paragraphs("devil"),
}


def sentences(text):
    parts, out = SENT_END.split(text), []
    for p in parts:
        if out and ABBREV.search(out[-1]):
            out[-1] += " " + p
        else:
            out.append(p)
    return out


def is_prose(t):
    words = t.split()
    if not MIN_WORDS <= len(words) <= MAX_WORDS:
        return False
    if sum(1 for w in words if URL.search(w)) > 0.15 * len(words):
        return False
    if sum(1 for w in words if CODEY.search(w)) > 0.2 * len(words):
        return False
    chars = t.replace(" ", "")
    if sum(c.isalpha() for c in chars) < 0.75 * len(chars) or sum(ord(c) > 127 for c in chars) > 0.1 * len(chars):
        return False
    if sum(1 for w in words if re.fullmatch(r"[a-z]{2,}[,.;:!?]?", w)) < 3:
        return False  # needs a few ordinary lower-case words
    if re.match(r"\d+(?:\.\d+)+\.?\s", t):
        return False  # numbered section heading
    return bool(re.match(r"[\"'\u201c\u2018(\[A-Za-z0-9]", t))


def units(texts):
    """Whitespace-normalised units of 5-60 words: whole if short enough,
    otherwise the sentences that qualify."""
    for t in texts:
        t = re.sub(r"\s+", " ", t).strip()
        if not t:
            continue
        n = len(t.split())
        if n < MIN_WORDS:
            continue
        if n <= MAX_WORDS:
            if is_prose(t):
                yield t
            continue
        for s in sentences(t):
            if is_prose(s):
                yield s


def package_version(pkg):
    r = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", pkg], capture_output=True, text=True)
    return r.stdout.strip() if r.returncode == 0 else None
