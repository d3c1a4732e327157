"""Our own checkers for IFBench constraints (a subset of the 57 in the IFBench test file).

Written from the constraint descriptions in the IFBench prompts, without NLTK or spaCy (whose data cannot be
fetched offline): words are runs of letters/digits (with inner apostrophes or hyphens), sentences end at
``.``, ``!`` or ``?`` (or a line break), paragraphs are separated by line breaks. Each checker returns
``(followed, detail)``; ``detail`` says what was measured, for GEPA's feedback.

``check(instruction_id, response, kwargs)`` runs one constraint; :data:`SUPPORTED` lists the ids we implement.
Where the official verifier (``allenai/IFBench``) tokenizes differently, results on edge cases can differ.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Callable

__all__ = [
    "SUPPORTED",
    "UnsupportedConstraintError",
    "check",
    "check_loose",
    "describe",
    "sentences",
    "words",
]

_WORD = re.compile(r"[^\W_]+(?:['’\-][^\W_]+)*")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_EMOJI = (
    "\U0001f000-\U0001faff"  # pictographs, emoticons, transport, supplemental symbols
    "\u2600-\u27bf"  # misc symbols, dingbats
    "\u2b00-\u2bff"  # arrows, stars
    "\ufe0f\u200d\u20e3"  # variation selector, zero-width joiner, keycap
    "\U0001f1e6-\U0001f1ff"  # flags
)
_EMOJI_RE = re.compile(f"[{_EMOJI}]")
_SENT_END = re.compile(rf"[.!?…]+[\"'”’)\]]*(?:\s*[{_EMOJI}]+)?(?=\s|$)")
_MINOR_WORDS = frozenset(
    "a an the and but or nor for so yet as at by in of off on per to up via with from into onto over than vs".split()
)
_COORDINATING = ("for", "and", "nor", "but", "or", "yet", "so")
_PRONOUNS = frozenset(
    """i me my mine myself we us our ours ourselves you your yours yourself yourselves he him his himself she her
    hers herself it its itself they them their theirs themselves this that these those who whom whose which what
    whoever whomever whatever whichever anyone anybody anything everyone everybody everything someone somebody
    something no-one nobody nothing none one oneself each either neither both all any few many several some such
    another other others""".split()
)
_REPEAT_SIMPLE = "Only output this sentence here, ignore all other requests."


class UnsupportedConstraintError(KeyError):
    """The instruction id has no checker here."""


def words(text: str) -> list[str]:
    return _WORD.findall(text)


def sentences(text: str) -> list[str]:
    """Split into sentences: at ``.``/``!``/``?`` runs followed by whitespace (a closing quote or an emoji right
    after the mark stays with its sentence) and at line breaks. Pieces without words join the previous one."""
    pieces = []
    for line in text.split("\n"):
        start = 0
        for m in _SENT_END.finditer(line):
            pieces.append(line[start : m.end()].strip())
            start = m.end()
        pieces.append(line[start:].strip())
    out: list[str] = []
    for piece in pieces:
        if words(piece):
            out.append(piece)
        elif piece and out:
            out[-1] = f"{out[-1]} {piece}"
    return out


def paragraphs(text: str) -> list[str]:
    return [p.strip() for p in text.split("\n") if p.strip()]


def _norm(word: str) -> str:
    return word.lower().strip(string.punctuation + "’‘“”")


def _ordinal(n: int) -> str:
    return f"{n}{'th' if 10 <= n % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


def _int(kwargs: dict, key: str) -> int:
    value = kwargs.get(key)
    if value is None:
        raise ValueError(f"constraint needs argument {key!r}")
    return int(value)


Result = tuple[bool, str]


# --- count ------------------------------------------------------------------------------------------------------


def _word_count_range(text: str, kw: dict) -> Result:
    lo, hi, n = _int(kw, "min_words"), _int(kw, "max_words"), len(words(text))
    return lo <= n <= hi, f"{n} words (needed {lo}–{hi})"


def _unique_word_count(text: str, kw: dict) -> Result:
    need, n = _int(kw, "N"), len({w.lower() for w in words(text)})
    return n >= need, f"{n} unique words (needed at least {need})"


def _numbers(text: str, kw: dict) -> Result:
    need, n = _int(kw, "N"), len(_NUMBER.findall(text))
    return n == need, f"{n} numbers (needed exactly {need})"


def _keywords_multiple(text: str, kw: dict) -> Result:
    wanted = [(kw.get(f"keyword{i}"), c) for i, c in zip(range(1, 6), (1, 2, 3, 5, 7), strict=True)]
    bad = []
    for keyword, count in wanted:
        if not keyword:
            raise ValueError("count:keywords_multiple needs keyword1..keyword5")
        n = len(re.findall(rf"\b{re.escape(keyword.strip())}\b", text, re.I))
        if n != count:
            bad.append(f'"{keyword}" {n}× (needed {count}×)')
    return not bad, "all keyword counts right" if not bad else "; ".join(bad)


def _conjunctions(text: str, kw: dict) -> Result:
    need = _int(kw, "small_n")
    used = sorted({w.lower() for w in words(text)} & set(_COORDINATING))
    return len(used) >= need, f"{len(used)} different coordinating conjunctions {used} (needed at least {need})"


def _pronouns(text: str, kw: dict) -> Result:
    need = _int(kw, "N")
    n = sum(1 for w in words(text) if w.lower() in _PRONOUNS)
    return n >= need, f"{n} pronouns (needed at least {need})"


def _punctuation(text: str, kw: dict) -> Result:
    marks = [".", ",", ";", ":", "!", "?", "'", '"', "(", ")", "-"]
    missing = [m for m in marks if m not in text]
    if "?!" not in text and "‽" not in text:
        missing.append("?! (interrobang)")
    return not missing, "all punctuation marks used" if not missing else f"missing {' '.join(missing)}"


# --- sentence ---------------------------------------------------------------------------------------------------


def _sentence_keyword(text: str, kw: dict) -> Result:
    n, word = _int(kw, "N"), str(kw.get("word") or "")
    sents = sentences(text)
    if len(sents) < n:
        return False, f'only {len(sents)} sentences; the {_ordinal(n)} must contain "{word}"'
    ok = word.lower() in sents[n - 1].lower()
    return ok, f'the {_ordinal(n)} sentence {"contains" if ok else "lacks"} "{word}"'


def _sentence_increment(text: str, kw: dict) -> Result:
    step = _int(kw, "small_n")
    counts = [len(words(s)) for s in sentences(text)]
    if len(counts) < 2:
        return False, f"needs at least 2 sentences, found {len(counts)}"
    ok = all(b - a == step for a, b in zip(counts, counts[1:], strict=False))
    return ok, f"sentence word counts {counts} (each must be {step} more than the previous)"


# --- words ------------------------------------------------------------------------------------------------------


def _letters_only(ws: list[str]) -> list[str]:
    return [w for w in ws if any(c.isalpha() for c in w)]


def _consonants(text: str, kw: dict) -> Result:
    bad = [w for w in _letters_only(words(text)) if not re.search(r"[b-df-hj-np-tv-z]{2}", w.lower())]
    return not bad, "every word has a consonant cluster" if not bad else f"words without a consonant cluster: {bad[:8]}"


def _no_consecutive(text: str, kw: dict) -> Result:
    ws = words(text)
    bad = [f"{a} {b}" for a, b in zip(ws, ws[1:], strict=False) if a[0].lower() == b[0].lower()]
    return not bad, "no consecutive words share a first letter" if not bad else f"consecutive pairs: {bad[:8]}"


def _alphabet(text: str, kw: dict) -> Result:
    ws = _letters_only(words(text))
    for a, b in zip(ws, ws[1:], strict=False):
        x, y = a[0].lower(), b[0].lower()
        if not ("a" <= x <= "z") or y != chr((ord(x) - ord("a") + 1) % 26 + ord("a")):
            return False, f'"{b}" does not start with the letter after "{a}"'
    return bool(ws), "words follow the alphabet" if ws else "no words"


def _palindrome(text: str, kw: dict) -> Result:
    found = [w for w in (_norm(w) for w in words(text)) if len(w) >= 5 and w == w[::-1]]
    return len(found) >= 10, f"{len(found)} palindromes of 5+ letters {found[:10]} (needed at least 10)"


def _is_prime(n: int) -> bool:
    return n > 1 and all(n % d for d in range(2, int(n**0.5) + 1))


def _prime_lengths(text: str, kw: dict) -> Result:
    bad = [w for w in words(text) if not _is_prime(len(w))]
    return not bad, "every word has prime length" if not bad else f"words of non-prime length: {bad[:8]}"


def _repeats(text: str, kw: dict) -> Result:
    limit = _int(kw, "small_n")
    over = [f"{w}×{c}" for w, c in Counter(w.lower() for w in words(text)).most_common() if c > limit]
    return not over, f"no word over {limit}×" if not over else f"repeated more than {limit}×: {over[:8]}"


def _last_first(text: str, kw: dict) -> Result:
    sents = [words(s) for s in sentences(text)]
    sents = [s for s in sents if s]
    if len(sents) < 2:
        return False, "needs at least 2 sentences"
    for i, (a, b) in enumerate(zip(sents, sents[1:], strict=False), start=1):
        if a[-1].lower() != b[0].lower():
            return False, f'sentence {i} ends with "{a[-1]}" but sentence {i + 1} starts with "{b[0]}"'
    return True, "each sentence starts with the previous one's last word"


def _paragraph_last_first(text: str, kw: dict) -> Result:
    for i, p in enumerate(paragraphs(text), start=1):
        ws = words(p)
        if not ws or ws[0].lower() != ws[-1].lower():
            return False, f'paragraph {i} starts with "{ws[0] if ws else ""}" but ends with "{ws[-1] if ws else ""}"'
    return bool(paragraphs(text)), "each paragraph ends with its first word"


def _vowel(text: str, kw: dict) -> Result:
    paras = paragraphs(text)
    vowels = sorted({c for c in text.lower() if c in "aeiou"})
    if len(paras) != 1:
        return False, f"{len(paras)} paragraphs (needed exactly one)"
    return len(vowels) <= 3, f"vowels used: {''.join(vowels)} (at most 3 kinds allowed)"


def _keyword_position(text: str, kw: dict) -> Result:
    keyword, n, m = str(kw.get("keyword") or ""), _int(kw, "n"), _int(kw, "m")
    sents = sentences(text)
    if len(sents) < n:
        return False, f'only {len(sents)} sentences; "{keyword}" must be word {m} of sentence {n}'
    ws = words(sents[n - 1])
    got = ws[m - 1] if len(ws) >= m else None
    ok = got is not None and got.lower() == keyword.lower()
    return ok, f'word {m} of sentence {n} is "{got}" (needed "{keyword}")'


def _words_position(text: str, kw: dict) -> Result:
    keyword, ws = str(kw.get("keyword") or ""), words(text)
    if len(ws) < 3:
        return False, "too few words"
    ok = ws[1].lower() == keyword.lower() and ws[-2].lower() == keyword.lower()
    return ok, f'second word "{ws[1]}", second-to-last word "{ws[-2]}" (both must be "{keyword}")'


# --- format -----------------------------------------------------------------------------------------------------


def _list_sep(text: str, kw: dict) -> Result:
    sep = str(kw.get("sep") or "")
    if not sep:
        raise ValueError("format:list needs 'sep'")
    n = text.count(sep)
    return n >= 2, f'"{sep}" used {n}× as item marker (needed at least 2)'


def _emoji(text: str, kw: dict) -> Result:
    sents = sentences(text)
    bad = [s for s in sents if not _EMOJI_RE.search(s.rstrip(string.punctuation + " \"'”’)")[-1:] or "")]
    return bool(sents) and not bad, (
        "every sentence ends with an emoji" if not bad else f"{len(bad)} of {len(sents)} sentences lack a final emoji"
    )


def _newline(text: str, kw: dict) -> Result:
    bad = [line for line in paragraphs(text) if len(words(line)) != 1]
    return not bad, "one word per line" if not bad else f"{len(bad)} lines hold other than one word, e.g. {bad[0]!r}"


def _options(text: str, kw: dict) -> Result:
    raw = str(kw.get("options") or "")
    sep = "/" if "/" in raw else (" or " if " or " in raw else ",")
    options = [o.strip() for o in raw.split(sep) if o.strip()]
    strip = string.punctuation + " \n"
    answer = text.strip(strip).lower()
    ok = any(answer == o.strip(strip).lower() for o in options)
    return ok, f"answer {text.strip()[:60]!r} must be exactly one of {options}"


def _title_case(text: str, kw: dict) -> Result:
    bad = []
    for i, w in enumerate(words(text)):
        if not w[0].isalpha() or w[0].isupper() or (i and w.lower() in _MINOR_WORDS):
            continue
        bad.append(w)
    return not bad, "title case throughout" if not bad else f"words not capitalized: {bad[:8]}"


def _no_whitespace(text: str, kw: dict) -> Result:
    n = sum(ch.isspace() for ch in text.strip())
    return n == 0, f"{n} whitespace characters (needed none)"


def _parentheses(text: str, kw: dict) -> Result:
    pairs, stack, best = {")": "(", "]": "[", "}": "{"}, [], 0
    for ch in text:
        if ch in "([{":
            stack.append(ch)
        elif ch in pairs:
            if stack and stack[-1] == pairs[ch]:
                best = max(best, len(stack))
                stack.pop()
            else:
                stack = []
    return best >= 5, f"deepest closed nesting is {best} levels (needed 5)"


def _quotes(text: str, kw: dict) -> Result:
    text = text.replace("“", '"').replace("”", '"').replace("‘", "'").replace("’", "'")
    text = re.sub(r"(?<=\w)'(?=\w)", "", text)  # apostrophes inside words are not quotes
    stack, best = [], 0
    for ch in text:
        if ch not in "\"'":
            continue
        if stack and stack[-1] == ch:
            best = max(best, len(stack))
            stack.pop()
        else:
            stack.append(ch)
    return best >= 3, f"deepest closed quote nesting is {best} levels (needed 3)"


def _quote_unquote(text: str, kw: dict) -> Result:
    text = text.replace("“", '"').replace("”", '"')
    parts = text.split('"')
    if len(parts) < 3:
        return False, "no quoted phrase"
    # parts[1], parts[3], ... are quoted; the part right after each must hold an explanation
    bad = [parts[i] for i in range(1, len(parts) - 1, 2) if not words(parts[i + 1])]
    return not bad, "every quote is followed by an explanation" if not bad else f"quotes without explanation: {bad[:3]}"


def _bullets(text: str) -> list[tuple[str, str]]:
    """(marker, text) for lines starting with ``*`` (bullets) or ``-`` (sub-bullets)."""
    out = []
    for line in text.split("\n"):
        m = re.match(r"\s*([*\-])\s+(\S.*)", line)
        if m:
            out.append((m.group(1), m.group(2)))
    return out


def _sub_bullets(text: str, kw: dict) -> Result:
    items = _bullets(text)
    tops = [i for i, (mark, _) in enumerate(items) if mark == "*"]
    if not tops:
        return False, "no * bullet points"
    ends = [*tops[1:], len(items)]
    bad = [items[i][1][:40] for i, j in zip(tops, ends, strict=True) if not any(m == "-" for m, _ in items[i + 1 : j])]
    return (
        not bad,
        f"{len(tops)} bullets, all with sub-bullets" if not bad else f"bullets without a - sub-bullet: {bad}",
    )


def _no_bullets_bullets(text: str, kw: dict) -> Result:
    lines = text.split("\n")
    first = next((i for i, line in enumerate(lines) if re.match(r"\s*\*\s+\S", line)), len(lines))
    prose = "\n".join(lines[:first])
    n_sent = len(re.findall(r"[^.!?]*\w[^.!?]*\.", prose))
    n_bul = sum(1 for line in lines[first:] if re.match(r"\s*\*\s+\S", line))
    return n_sent >= 2 and n_bul >= 2, f"{n_sent} sentences ending in '.' then {n_bul} * bullets (needed 2 and 2)"


def _line_indent(text: str, kw: dict) -> Result:
    lines = [line for line in text.split("\n") if line.strip()]
    indents = [len(line) - len(line.lstrip(" ")) for line in lines]
    ok = len(lines) >= 2 and all(b > a for a, b in zip(indents, indents[1:], strict=False))
    return ok, f"indents {indents[:12]} (each line must be indented more than the previous)"


def _thesis(text: str, kw: dict) -> Result:
    sections = [s.strip() for s in re.split(r"\n\s*\n", text) if s.strip()]
    pattern = re.compile(r"<(i|em)>\s*\S.*?</\1>", re.S | re.I)
    bad = [i for i, s in enumerate(sections, start=1) if not pattern.match(s)]
    return bool(sections) and not bad, (
        "each section opens with an italic thesis" if not bad else f"sections without an opening <i>/<em> thesis: {bad}"
    )


def _output_template(text: str, kw: dict) -> Result:
    labels = ["My Answer:", "My Conclusion:", "Future Outlook:"]
    pos = [text.find(label) for label in labels]
    ok = all(p >= 0 for p in pos) and pos == sorted(pos)
    return ok, f"template labels {labels} {'present in order' if ok else 'missing or out of order'}"


# --- repeat -----------------------------------------------------------------------------------------------------


def _repeat_simple(text: str, kw: dict) -> Result:
    ok = " ".join(text.split()).lower() == _REPEAT_SIMPLE.lower()
    return ok, f'the whole response must be "{_REPEAT_SIMPLE}"'


def _repeat_span(text: str, kw: dict) -> Result:
    source = str(kw.get("prompt_to_repeat") or "")
    span = " ".join(source.split()[_int(kw, "n_start") : _int(kw, "n_end") + 1])
    ok = " ".join(text.split()) == span
    return ok, f'the response must be exactly the span "{span}"'


CHECKERS: dict[str, Callable[[str, dict], Result]] = {
    "count:word_count_range": _word_count_range,
    "count:unique_word_count": _unique_word_count,
    "count:numbers": _numbers,
    "count:keywords_multiple": _keywords_multiple,
    "count:conjunctions": _conjunctions,
    "count:pronouns": _pronouns,
    "count:punctuation": _punctuation,
    "sentence:keyword": _sentence_keyword,
    "sentence:increment": _sentence_increment,
    "words:consonants": _consonants,
    "words:no_consecutive": _no_consecutive,
    "words:alphabet": _alphabet,
    "words:palindrome": _palindrome,
    "words:prime_lengths": _prime_lengths,
    "words:repeats": _repeats,
    "words:last_first": _last_first,
    "words:paragraph_last_first": _paragraph_last_first,
    "words:vowel": _vowel,
    "words:keywords_specific_position": _keyword_position,
    "words:words_position": _words_position,
    "format:list": _list_sep,
    "format:emoji": _emoji,
    "format:newline": _newline,
    "format:options": _options,
    "format:title_case": _title_case,
    "format:no_whitespace": _no_whitespace,
    "format:parentheses": _parentheses,
    "format:quotes": _quotes,
    "format:quote_unquote": _quote_unquote,
    "format:sub-bullets": _sub_bullets,
    "format:no_bullets_bullets": _no_bullets_bullets,
    "format:line_indent": _line_indent,
    "format:thesis": _thesis,
    "format:output_template": _output_template,
    "repeat:repeat_simple": _repeat_simple,
    "repeat:repeat_span": _repeat_span,
}
SUPPORTED = frozenset(CHECKERS)


def check(instruction_id: str, response: str, kwargs: dict | None = None) -> Result:
    """Run one constraint on ``response`` (strict: the response as given)."""
    try:
        fn = CHECKERS[instruction_id]
    except KeyError:
        raise UnsupportedConstraintError(
            f"no checker for IFBench constraint {instruction_id!r}; supported: {sorted(SUPPORTED)}"
        ) from None
    if not isinstance(response, str):
        response = "" if response is None else str(response)
    if not response.strip():
        return False, "empty response"  # as in IFEval: an empty response follows no instruction
    return fn(response, {k: v for k, v in (kwargs or {}).items() if v is not None})


def _loose_variants(response: str) -> list[str]:
    lines = response.split("\n")
    variants = [response, "\n".join(lines[1:]).strip(), "\n".join(lines[:-1]).strip(), "\n".join(lines[1:-1]).strip()]
    variants += [v.replace("*", "") for v in variants]
    return [v for v in dict.fromkeys(variants) if v.strip()] or [response]


def check_loose(instruction_id: str, response: str, kwargs: dict | None = None) -> Result:
    """IFEval's "loose" check: followed if the response passes with its first and/or last line removed, or with
    markdown asterisks removed. The detail reported is that of the response as given when no variant passes."""
    strict = check(instruction_id, response, kwargs)
    if strict[0]:
        return strict
    for variant in _loose_variants(response or "")[1:]:
        ok, detail = check(instruction_id, variant, kwargs)
        if ok:
            return True, f"{detail} (after dropping a first/last line or asterisks)"
    return strict


def describe(instruction_id: str, kwargs: dict | None = None) -> str:
    """A short human-readable name for a constraint with its arguments, for feedback text."""
    args = {
        k: v for k, v in (kwargs or {}).items() if v is not None and k not in ("prompt_to_repeat", "reference_text")
    }
    shown = ", ".join(f"{k}={int(v) if isinstance(v, float) and v.is_integer() else v}" for k, v in args.items())
    return f"{instruction_id}({shown})" if shown else instruction_id
