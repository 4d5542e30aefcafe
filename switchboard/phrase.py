"""A small grammar for one-time phrases: "tomorrow at 9am", "half past 3 this afternoon", "in 2 hours".

The phrase is read left to right as a sequence of *parts* (a date, a day word,
a weekday, a time of day, a part of the day, an amount of time, a zone), each
at most once. A word that no part explains makes the whole phrase a refusal:
nothing is skipped, so nothing is silently misread. The parts are then
resolved together, and every ambiguity is refused with a suggestion:

- a number becomes a month, a day or a year only when it is written as a date
  ("dec 24", "24/12/2026", "2026-12-24"); "3/4" (March 4 or April 3?) is refused;
- an hour from 1 to 12 without am/pm ("at 9", "ten thirty", "half past 3")
  takes its half of the day from a part-of-day word ("this afternoon at 3" is
  15:00); with a named day and no such word, 8-11 are morning hours and 12 is
  noon ("tomorrow at 9" is 09:00); anything else is refused;
- a day with no time means 09:00; a part of the day alone means its default
  hour (morning 09:00, afternoon 15:00, evening 19:00, night 20:00);
- "next X" is refused where many read it as the X a week later ("next wednesday"
  said on a Tuesday, "next saturday" said on a weekday), and so is "of the month"
  on a day already passed; weeks run Monday to Sunday ("thursday next week").
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, time, timedelta, timezone, tzinfo

from switchboard.exceptions import TimeParseError

PART_OF_DAY_HOURS = {"morning": 9, "afternoon": 15, "evening": 19, "night": 20}
"""The hour a part-of-day word means when no time is given ("tomorrow morning" is 09:00)."""

DEFAULT_HOUR = 9
"""The hour meant when a phrase names a day but no time of day."""

# Which hours (24-hour clock) each part of the day can hold, and how a 1-12 hour is read in it.
_PART_RANGES = {"morning": range(0, 12), "afternoon": range(12, 19), "evening": range(16, 24), "night": range(18, 24)}
_PART_BARE = {
    "morning": {h: h for h in range(1, 12)},
    "afternoon": {12: 12, **{h: h + 12 for h in range(1, 7)}},
    "evening": {h: h + 12 for h in range(4, 12)},
    "night": {h: h + 12 for h in range(6, 12)},
}
# A bare hour with a named day and no part of the day: only these are clear enough to read.
_DAY_BARE = {8: 8, 9: 9, 10: 10, 11: 11, 12: 12}

_UNITS = {
    "s": "seconds", "sec": "seconds", "secs": "seconds", "second": "seconds", "seconds": "seconds",
    "m": "minutes", "min": "minutes", "mins": "minutes", "minute": "minutes", "minutes": "minutes",
    "h": "hours", "hr": "hours", "hrs": "hours", "hour": "hours", "hours": "hours",
    "d": "days", "day": "days", "days": "days",
    "w": "weeks", "wk": "weeks", "wks": "weeks", "week": "weeks", "weeks": "weeks",
    "month": "months", "months": "months", "mo": "months", "mos": "months",
    "year": "years", "years": "years", "yr": "years", "yrs": "years",
    "fortnight": "fortnights", "fortnights": "fortnights", "'": "minutes", '"': "seconds",
}  # fmt: skip

_SMALL = [
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
    "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen",
]  # fmt: skip
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50}
_NUMBER_WORDS = {word: value for value, word in enumerate(_SMALL)}
_NUMBER_WORDS.update(_TENS)
_NUMBER_WORDS.update(
    {f"{ten} {unit}": value + n for ten, value in _TENS.items() for n, unit in enumerate(_SMALL[1:10], 1)}
)
_NUMBER_WORDS.update({"sixty": 60, "ninety": 90, "a hundred": 100})
_HOUR_WORDS = {word: _NUMBER_WORDS[word] for word in _SMALL[1:13]}
_MINUTE_WORDS = {word: value for word, value in _NUMBER_WORDS.items() if 10 <= value <= 59}
_MINUTE_WORDS.update(  # "twelve oh three", "nine o five", "twelve zero three"
    {f"{lead} {word}": n for word, n in _NUMBER_WORDS.items() if 1 <= n <= 9 for lead in ("oh", "o", "zero")}
)

_ORDINAL_WORDS = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7, "eighth": 8,
    "ninth": 9, "tenth": 10, "eleventh": 11, "twelfth": 12, "thirteenth": 13, "fourteenth": 14,
    "fifteenth": 15, "sixteenth": 16, "seventeenth": 17, "eighteenth": 18, "nineteenth": 19, "twentieth": 20,
    "thirtieth": 30,
}  # fmt: skip
_ORDINAL_WORDS.update({f"twenty {w}": 20 + v for w, v in list(_ORDINAL_WORDS.items()) if v < 10})
_ORDINAL_WORDS["thirty first"] = 31

_WEEKDAYS = {
    "monday": 0, "mon": 0, "tuesday": 1, "tue": 1, "tues": 1, "wednesday": 2, "wed": 2,
    "thursday": 3, "thu": 3, "thur": 3, "thurs": 3, "friday": 4, "fri": 4, "saturday": 5, "sat": 5,
    "sunday": 6, "sun": 6,
}  # fmt: skip
_MONTHS = {
    "january": 1, "jan": 1, "february": 2, "feb": 2, "march": 3, "mar": 3, "april": 4, "apr": 4, "may": 5,
    "june": 6, "jun": 6, "july": 7, "jul": 7, "august": 8, "aug": 8, "september": 9, "sep": 9, "sept": 9,
    "october": 10, "oct": 10, "november": 11, "nov": 11, "december": 12, "dec": 12,
}  # fmt: skip

_WEEKDAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")

# Zone abbreviations with one meaning in English text; IST, BST and the like are refused as ambiguous.
_ZONE_ABBREVIATIONS = {
    "utc": 0, "gmt": 0, "z": 0, "est": -5, "edt": -4, "cst": -6, "cdt": -5, "mst": -7, "mdt": -6,
    "pst": -8, "pdt": -7, "cet": 1, "cest": 2, "eet": 2, "eest": 3, "jst": 9,
}  # fmt: skip


def _alt(words: object) -> str:
    """A regex alternation of ``words``, longest first so "monday" wins over "mon"."""
    return "|".join(sorted((re.escape(str(w)) for w in words), key=len, reverse=True))  # type: ignore[attr-defined]


_END = r"(?=\s|$)"
_NUM = (
    rf"(?:\d+(?:\.\d+)?|{_alt(_NUMBER_WORDS)}|an?|a couple(?: of)?|couple(?: of)?|an? pair of|pair of|a few|few"
    r"|several|some)"
)
# A word amount needs its space, or "and" would read as "an d(ay)".
_AMOUNT_ONE = (
    rf"\d+(?:\.\d+)? ?(?:{_alt(_UNITS)})|(?:{_NUM})(?: and an? half)? (?:more )?(?:{_alt(_UNITS)})"
    r"|half an? hour|an? half hour|half hour|an? quarter(?: of an?)? hour|quarter hour"
    r"|three quarters of an? hour|[13]/4 ?(?:h|hr|hour)|1/2 ?(?:h|hr|hour)"
)
_AMOUNT = rf"(?:{_AMOUNT_ONE})(?:(?: and| ) ?(?:{_AMOUNT_ONE}))*(?: and an? half)?"
_HOUR = rf"(?:\d{{1,2}}|{_alt(_HOUR_WORDS)})"
_MERIDIEM = r"(?:am|pm)"
_DAY = rf"\d{{1,2}}(?:st|nd|rd|th)?|{_alt(_ORDINAL_WORDS)}"
_MONTH = _alt(_MONTHS)
_YEAR = r"(?: (?P<y>\d{4}))?"
_WEEKDAY = _alt(_WEEKDAYS)
_NTH = r"first|1st|second|2nd|third|3rd|fourth|4th|fifth|5th|last"
# A month named by where it is: "of next month", "in the month", "of the previous month".
_MONTH_REF = r"(?:of|in) (?:the )?(?:(?P<rel>next|following|this|current|previous|last) )?month"
# Phrases that name a week or month as a place for a day, not as a vague span ("wednesday next week").
_ANCHORED = re.compile(
    rf"\b(?:{_WEEKDAY}) (?:of )?(?:this|next|last) week\b|\b(?:this|next|last) week(?:s)? (?:{_WEEKDAY})\b"
    r"|\b(?:of|in) (?:the )?(?:next|following|this|current|previous|last) month\b"
)

# Each part: (name, pattern). Tried in this order at each position; the first that matches wins.
_PARTS: list[tuple[str, re.Pattern[str]]] = [
    (name, re.compile(pattern + _END))
    for name, pattern in [
        ("now", r"(?:right )?now|immediately|asap|at the moment"),
        ("same_time", r"(?:this|same|the same) time (?P<day>tomorrow|today)"),
        ("relative", rf"in (?P<amount>{_AMOUNT})(?: time)?"),
        ("relative", rf"(?P<amount>{_AMOUNT}) (?P<dir>from (?:right )?now|later|hence|ago|from today|from tomorrow)"),
        ("iso_date", r"(?P<y>\d{4})[-/.](?P<m>\d{1,2})[-/.](?P<d>\d{1,2})"),
        ("numeric_date", r"(?P<a>\d{1,2})/(?P<b>\d{1,2})(?:/(?P<y>\d{4}|\d{2}))?"),
        ("numeric_date", r"(?P<a>\d{1,2})(?P<sep>[.-])(?P<b>\d{1,2})(?P=sep)(?P<y>\d{4}|\d{2})"),
        (
            "nth_weekday",
            rf"(?:the )?(?P<nth>{_NTH}) (?P<wd>{_WEEKDAY}|day) (?:(?:of|in) (?P<mon>{_MONTH}){_YEAR}|{_MONTH_REF})",
        ),
        ("month_day", rf"(?:the )?(?P<d>{_DAY}|\d{{1,2}})(?: day)? {_MONTH_REF}"),
        ("month_date", rf"(?P<mon>{_MONTH}) ?(?:the )?(?P<d>{_DAY}){_YEAR}"),
        ("month_date", rf"(?:the )?(?P<d>{_DAY})(?: day)? ?(?:of )?(?P<mon>{_MONTH}){_YEAR}"),
        ("month_date", rf"(?P<d>\d{{1,2}})(?P<sep>[/-])(?P<mon>{_MONTH})(?P=sep)(?P<y>\d{{4}})"),
        ("day_of_month", rf"(?:the )?(?P<d>\d{{1,2}}(?:st|nd|rd|th)|{_alt(_ORDINAL_WORDS)})"),
        ("day_word", r"(?:the )?day after tomorrow|(?:the )?day before yesterday|today|tomorrow|tmrw|tmr|yesterday"),
        ("tonight", r"tonight|tonite|last night"),
        (
            "weekday_count",
            rf"(?P<count>\d+|{_alt(_NUMBER_WORDS)}) (?P<wd>{_WEEKDAY})s (?P<dir>from now|hence|ago|back)",
        ),
        ("week_day", rf"(?:on )?(?P<wd>{_WEEKDAY}) (?:of )?(?P<week>this|next|last) week"),
        ("week_day", rf"(?P<week>this|next|last) week(?:s)? (?P<wd>{_WEEKDAY})"),
        ("weekday", rf"(?:on )?(?P<wd>{_WEEKDAY}) (?P<mod>after next)"),
        ("weekday", rf"(?:(?P<mod>this coming|coming|this|next|last|on) )?(?P<wd>{_WEEKDAY})"),
        ("part", r"(?:(?P<this>the) )?(?P<part>morning|afternoon|evening|night) of(?= \S)"),  # "the morning of dec 24"
        ("part", r"(?:(?P<this>this|in the|in|at) )?(?P<part>morning|afternoon|evening|night)"),
        (
            "clock_relation",
            rf"(?P<mins>an? quarter|quarter|half|\d{{1,2}}|{_alt(_MINUTE_WORDS)}|five|ten)(?: minutes?)? "
            rf"(?P<dir>past|after|to|till|til|before|of) "
            rf"(?P<target>\d{{1,2}}h|{_HOUR}(?: ?{_MERIDIEM})?|noon|midday|midnight)",
        ),
        (  # "15 minutes from 1pm": only with "minutes" and a time that says its half of the day
            "clock_relation",
            rf"(?P<mins>\d{{1,2}}|{_alt(_MINUTE_WORDS)}|five|ten) minutes? (?P<dir>from) "
            rf"(?P<target>\d{{1,2}}h|{_HOUR} ?{_MERIDIEM}|noon|midday|midnight)",
        ),
        (
            "clock",
            r"(?P<h>\d{1,2})(?:[:.](?P<m>\d{2})(?::(?P<s>\d{2}))?)?(?P<ap> ?am| ?pm|(?<=\d)a|(?<=\d)p)(?: ?oclock)?",
        ),
        ("clock", r"(?P<h>\d{1,2}):(?P<m>\d{2})(?::(?P<s>\d{2})(?:\.\d+)?)?"),
        ("clock", r"(?P<h>\d{1,2}) ?oclock (?P<ap>am|pm)"),
        ("clock", r"(?P<h>\d{1,2})(?P<m>\d{2})(?P<ap> ?am| ?pm)"),
        ("clock_h", r"(?P<h>\d{1,2})h(?P<m>\d{2})?"),
        ("clock_hhmm", r"at (?P<hhmm>\d{4})"),
        ("clock_hmm", r"at (?P<h>[1-9])(?P<m>[0-5]\d)"),
        ("noon", r"(?:12 )?(?:the )?(?:noon|midday|mid day)"),
        ("midnight", r"(?:12 )?midnight"),
        (
            "clock_words",
            rf"(?P<h>{_alt(_HOUR_WORDS)})(?: (?P<m>{_alt(_MINUTE_WORDS)}))?"
            rf"(?: ?(?P<ap>{_MERIDIEM}))?(?P<oclock> oclock)?",
        ),
        ("clock_number", r"(?P<h>\d{1,2})(?P<oclock> ?oclock)?"),
        ("zone", rf"(?P<abbr>{_alt(_ZONE_ABBREVIATIONS)})(?P<off>[+-]\d{{1,2}}(?::?\d{{2}})?)?"),
        ("zone", r"(?P<off>[+-]\d{2}:?\d{2})"),
    ]
]
_FILLERS = re.compile(r"(?:at|on|@|for)" + _END)

# "around 5pm", "3pmish", "in about an hour": a message goes out at one instant, so a word that softens an
# exact time adds nothing and is read past. What is left must be an exact time by itself: "about 3" and
# "3ish" are refused as "3" is (morning or afternoon?).
_APPROXIMATE = re.compile(
    r"\b(?:around|about|approximately|approx|roughly|circa)\b"
    r"|(?:(?<=\d)|(?<=[ap]m)|(?<=\bnoon)|(?<=midnight))[ -]?ish\b"
)
# Words that ask for a time nobody can pin down: refused with their own hint.
_VAGUE = re.compile(
    r"\d+ish\b|\b(?:sometime|soon|later today|early|late|"
    r"end of|eod|eom|eow|weekend|next week|next month|next year|this week|this month|this year)\b"
)
_EXACT_HINT = 'name an exact time, such as "tomorrow at 9am", "in 2 hours" or "friday at 15:00"'


@dataclass
class TimeOfDay:
    """A time of day as written: ``kind`` is "exact" (24-hour), "am", "pm" or "bare" (1-12, half of day unsaid)."""

    hour: int
    minute: int = 0
    second: int = 0
    kind: str = "exact"
    text: str = ""
    midnight: bool = False


@dataclass
class Reading:
    """What a phrase said, part by part, before it is resolved to an instant."""

    parts: dict[str, re.Match[str]] = field(default_factory=dict)
    clock: TimeOfDay | None = None


def read(phrase: str, raw: str) -> Reading:
    """Split the normalised ``phrase`` into its parts; refuse words no part explains or a part said twice."""
    phrase = " ".join(_APPROXIMATE.sub(" ", phrase).split())
    vague = _VAGUE.search(_ANCHORED.sub(" ", phrase))
    if vague:
        raise TimeParseError(f'"{raw}" is not an exact time ("{vague[0]}") — {_EXACT_HINT}')
    reading = Reading()
    pos = 0
    after_at = False  # whether the word before is "at": "at 9", "at eight"
    while pos < len(phrase):
        for name, pattern in _PARTS:  # noqa: B007 - the name of the part that matched is used below
            match = pattern.match(phrase, pos)
            if match:
                break
        else:
            filler = _FILLERS.match(phrase, pos)
            if filler is None:
                return _unknown(raw)
            after_at = filler[0] in ("at", "@")
            pos = _skip_space(phrase, filler.end())
            continue
        if name == "clock" and match.groupdict().get("ap") == "a" and not match.groupdict().get("m") and not after_at:
            # "4a" alone is as often a flat, a seat or a paper size as 4am; "at 4a" and "4:15a" are times.
            raise TimeParseError(f'"{raw}": is "{match[0]}" a time? — write "{match["h"]}am"')
        if _lone_number(name, match) and pos > 0 and not after_at:
            # "dec 24 15" or "14th april 15": a year, a day or an hour? Only "at 15" says it is an hour.
            raise TimeParseError(_lone_number_error(raw, match[0]))
        after_at = False
        kind = "clock" if name.startswith(("clock", "noon", "midnight")) else name
        kind = "date" if name in ("iso_date", "numeric_date", "month_date", "day_of_month", "nth_weekday") else kind
        kind = "date" if name == "month_day" else kind
        kind = "weekday" if name in ("weekday_count", "week_day") else kind
        if kind in reading.parts:
            raise TimeParseError(f'"{raw}" says {_what(kind)} twice — {_EXACT_HINT}')
        reading.parts[kind] = match
        if kind == "clock":
            reading.clock = _clock(name, match, raw)
        pos = _skip_space(phrase, match.end())
    return reading


def _lone_number(name: str, match: re.Match[str]) -> bool:
    """Whether a clock part is a number and nothing else ("15", "eight"): no colon, am/pm or o'clock."""
    if name == "clock_number":
        return not match["oclock"]
    return name == "clock_words" and not (match["m"] or match["ap"] or match["oclock"])


def _skip_space(phrase: str, pos: int) -> int:
    """The position after any spaces at ``pos``."""
    while pos < len(phrase) and phrase[pos] == " ":
        pos += 1
    return pos


def _what(kind: str) -> str:
    """How to name a part in an error."""
    return {"clock": "a time of day", "date": "a date", "relative": "an amount of time"}.get(kind, f"a {kind}")


def _unknown(raw: str) -> Reading:
    """Refuse a phrase with words no part explains."""
    raise TimeParseError(
        f'could not understand "{raw}" as a time — try "in 5 minutes", "tomorrow at 9am" or an ISO 8601 time '
        "such as 2026-03-11T09:00:00+01:00"
    )


def _no_such_time(text: str) -> TimeParseError:
    return TimeParseError(f'there is no time of day "{text}" — use 0:00-23:59, or 1-12 with am/pm')


def _hour_value(text: str) -> int:
    """An hour written as digits or a word."""
    return int(text) if text.isdigit() else _HOUR_WORDS[text]


def _clock(name: str, match: re.Match[str], raw: str) -> TimeOfDay:
    """The time of day one clock part says."""
    text = match[0]
    if name == "noon":
        return TimeOfDay(12, text=text)
    if name == "midnight":
        return TimeOfDay(0, text=text, midnight=True)
    if name == "clock_hhmm":
        hour, minute = int(match["hhmm"][:2]), int(match["hhmm"][2:])
        return _checked(TimeOfDay(hour, minute, text=text))
    if name == "clock_hmm":  # "at 730": 7:30, morning or evening as the rest of the phrase says
        return _checked(TimeOfDay(int(match["h"]), int(match["m"]), kind="bare", text=text))
    if name == "clock_h":  # "15h", "9h30": the 24-hour clock of French and other writing
        return _checked(TimeOfDay(int(match["h"]), int(match["m"] or 0), text=text))
    if name == "clock_relation":
        return _relation(match, raw)
    hour_text = match["h"]
    hour = _hour_value(hour_text)
    minute_text = match.groupdict().get("m")
    minute = int(minute_text) if minute_text and minute_text.isdigit() else _MINUTE_WORDS.get(minute_text or "", 0)
    second = int(match.groupdict().get("s") or 0)
    meridiem = (match.groupdict().get("ap") or "").strip()[:1]
    if meridiem:
        if not 1 <= hour <= 12 or minute > 59 or second > 59:
            raise _no_such_time(text)
        return TimeOfDay(hour % 12 + (12 if meridiem == "p" else 0), minute, second, kind=f"{meridiem}m", text=text)
    # "09:30" and "17:00" are the 24-hour clock; "9:30", "9" and "nine" leave the half of the day unsaid.
    # "12:15" and "12:00" are noon's hour on both clocks (after midnight it is "00:15" or "12:15am"); "12"
    # and "twelve" alone stay unsaid, as noon and midnight are both "12 o'clock".
    bare = (1 <= hour <= 11 or (hour == 12 and not minute_text)) and not hour_text.startswith("0")
    return _checked(TimeOfDay(hour, minute, second, kind="bare" if bare else "exact", text=text))


def _checked(clock: TimeOfDay) -> TimeOfDay:
    """``clock`` when it is a time of day; an error saying so otherwise."""
    if clock.hour > 23 or clock.minute > 59 or clock.second > 59:
        raise _no_such_time(clock.text)
    return clock


def _relation(match: re.Match[str], raw: str) -> TimeOfDay:
    """ "half past 3", "a quarter to noon", "twenty after 3pm", "ten to 6"."""
    mins_text = match["mins"]
    minutes = {"a quarter": 15, "an quarter": 15, "quarter": 15, "half": 30, "five": 5, "ten": 10}.get(mins_text)
    if minutes is None:
        minutes = int(mins_text) if mins_text.isdigit() else _MINUTE_WORDS[mins_text]
    before = match["dir"] in ("to", "till", "til", "before", "of")
    if (minutes == 30 and before) or not 1 <= minutes <= 59:
        raise TimeParseError(
            f'could not understand "{match[0]}" in "{raw}" as a time — try "half past 3pm" or "3:30pm"'
        )
    target = match["target"]
    if match["dir"] == "after" and target == "noon" and mins_text.isdigit() and "minute" not in match[0]:
        # "1 after noon" is more likely "1 afternoon" (13:00) mistyped than 12:01.
        unit = "minute" if mins_text == "1" else "minutes"
        raise TimeParseError(f'"{raw}": write "{mins_text} {unit} after noon" or "{mins_text}pm"')
    if target in ("noon", "midday"):
        base = TimeOfDay(12)
    elif target.endswith("h"):  # "15 minutes past 15h": the 24-hour clock
        base = _checked(TimeOfDay(int(target[:-1]), text=target))
    elif target == "midnight":
        base = TimeOfDay(0, midnight=True)
    else:
        parts = re.fullmatch(rf"({_HOUR}) ?({_MERIDIEM})?", target)
        assert parts is not None
        hour = _hour_value(parts[1])
        if parts[2]:
            if not 1 <= hour <= 12:
                raise _no_such_time(target)
            base = TimeOfDay(hour % 12 + (12 if parts[2] == "pm" else 0), kind=parts[2])
        else:
            bare = 1 <= hour <= 12 and not parts[1].startswith("0")
            base = _checked(TimeOfDay(hour, kind="bare" if bare else "exact", text=target))
    total = base.hour * 60 + (-minutes if before else minutes)
    if base.kind == "bare":
        # Arithmetic on a bare hour stays bare: "ten to 1" is 12:50 (or 00:50), read like "12:50".
        hour = (total // 60 - 1) % 12 + 1
        return TimeOfDay(hour, total % 60, kind="bare", text=match[0])
    if base.midnight and before:
        raise TimeParseError(
            f'"{match[0]}" in "{raw}" is before midnight on which day? — write "23:{60 - minutes:02d}"'
        )
    kind = base.kind if (total // 60) % 24 // 12 == base.hour // 12 else "exact"
    return TimeOfDay((total // 60) % 24, total % 60, kind=kind, text=match[0])


# ---------------------------------------------------------------- resolving


def amount(text: str, raw: str) -> dict[str, float]:
    """Read "2 hours and 30 minutes", "an hour and a half", "a couple of days" as units and counts."""
    text = re.sub(r"\bhalf an? hour\b|\ban? half hour\b|\bhalf hour\b", "30 minutes", text)
    text = re.sub(r"\ban? quarter(?: of an?)? hour\b|\bquarter hour\b|(?<!\S)1/4 ?(?:h|hr|hour)\b", "15 minutes", text)
    text = re.sub(r"\bthree quarters of an? hour\b|(?<!\S)3/4 ?(?:h|hr|hour)\b", "45 minutes", text)
    text = re.sub(r"(?<!\S)1/2 ?(?:h|hr|hour)\b", "30 minutes", text)
    text = re.sub(r" more (?=\S)", " ", text)  # "in 2 more minutes"
    # "2 and a half hours": the half belongs to the unit that follows
    text = re.sub(
        rf"(?<!\S)(\d+|{_alt(_NUMBER_WORDS)}|an?) and an? half (?=\S)",
        lambda m: f"{1 if m[1] in ('a', 'an') else _NUMBER_WORDS.get(m[1]) or int(m[1])}.5 ",
        text,
    )
    half = text.endswith(" and a half") or text.endswith(" and an half")
    text = re.sub(r" and an? half$", "", text)
    found: dict[str, float] = {}
    pieces = [
        (match[1] or match[3], match[2] or match[4])
        for match in re.finditer(
            rf"(?<!\S)(?:(\d+(?:\.\d+)?) ?({_alt(_UNITS)})|({_NUM}) ({_alt(_UNITS)}))(?=\s|$)", text
        )
    ]
    for count_text, unit_text in pieces:
        if count_text in ("a few", "few", "several", "some"):
            raise TimeParseError(f'"{raw}" does not say how many ("{count_text}") — say a number, such as "in 3 hours"')
        if count_text.startswith(("a couple", "couple", "a pair", "an pair", "pair")):
            count: float = 2
        elif count_text in ("a", "an"):
            count = 1
        elif count_text in _NUMBER_WORDS:
            count = _NUMBER_WORDS[count_text]
        else:
            count = float(count_text)
        unit = _UNITS[unit_text]
        found[unit] = found.get(unit, 0) + count
    if "fortnights" in found:
        found["weeks"] = found.get("weeks", 0) + 2 * found.pop("fortnights")
    if half:
        if len(pieces) != 1:
            raise TimeParseError(f'could not understand "{raw}" — try "in 90 minutes"')
        unit = _UNITS[pieces[0][1]]
        found[unit] += 0.5
    for unit in ("days", "weeks", "months", "years"):
        if found.get(unit, 0) % 1:
            raise TimeParseError(f'"{raw}" has part of a {unit[:-1]} — say it in hours, such as "in 36 hours"')
    return found


def named_zone(match: re.Match[str], raw: str) -> tzinfo:
    """The fixed offset a zone part names ("PST", "UTC+2", "+02:00")."""
    hours = _ZONE_ABBREVIATIONS.get(match.groupdict().get("abbr") or "utc", 0)
    offset = timedelta(hours=hours)
    if match["off"]:
        sign = -1 if match["off"][0] == "-" else 1
        digits = match["off"][1:].replace(":", "")
        hh, mm = (digits, "0") if len(digits) <= 2 else (digits[:-2], digits[-2:])
        if int(hh) > 14 or int(mm) > 59:
            raise TimeParseError(f'"{match[0]}" in "{raw}" is not a UTC offset — write it as +02:00 or -0500')
        offset += sign * timedelta(hours=int(hh), minutes=int(mm))
    return UTC if not offset else timezone(offset)


def date_of(match: re.Match[str], today: date, raw: str) -> tuple[date, bool]:
    """The date a date part names, and whether its year was said; a date without a year is the next one."""
    groups = match.groupdict()
    year_text = groups.get("y")
    if "nth" in groups:
        return _nth_weekday_date(groups, today, raw), bool(year_text)
    if "rel" in groups:  # "the 20th of next month"
        month_start = _month_of(groups["rel"], today)
        found = _real_date(month_start.year, month_start.month, _day_number(groups["d"]), raw)
        return _this_month_unless_passed(found, groups["rel"], today, raw), True
    if "mon" in groups or ("a" not in groups and "m" not in groups):
        day = _day_number(groups["d"])
        # "the 24th" alone: this month's, or next month's when it has passed
        month = _MONTHS[groups["mon"]] if "mon" in groups else today.month
    elif "m" in groups:  # 2026-12-24
        return _real_date(int(groups["y"]), int(groups["m"]), int(groups["d"]), raw), True
    else:
        first, second = int(groups["a"]), int(groups["b"])
        if year_text and len(year_text) == 2:
            raise TimeParseError(f'"{raw}" has a two-digit year — write it in full, such as 2026-12-24')
        if first == second:
            day = month = first
        elif first > 12 and second <= 12:
            day, month = first, second
        elif second > 12 and first <= 12:
            month, day = first, second
        else:
            where = f'"{match[0]}"' if match[0] == raw.strip().lower() else f'"{match[0]}" in "{raw}"'
            raise TimeParseError(
                f'{where} could be day/month or month/day — write the month as a word ("24 dec") or use 2026-12-24'
            )
    if year_text:
        return _real_date(int(year_text), month, day, raw), True
    candidate = _maybe_date(today.year, month, day)
    # A date without a year that passed less than a month ago is that one (and so refused as past):
    # "dec 4" said on 5 December is more likely a slip than next year's. "the 4th" is next month's.
    recent = timedelta(days=31 if "mon" in groups or "a" in groups else 0)
    if candidate is None or candidate < today - recent:
        if "mon" in groups or "a" in groups:
            candidate = _maybe_date(today.year + 1, month, day)
        else:
            following = today.replace(day=1) + timedelta(days=32)
            candidate = _maybe_date(following.year, following.month, day)
    if candidate is None:
        raise TimeParseError(f'"{raw}" names a day the coming month does not have — name the month too')
    return candidate, False


_NTH_NUMBERS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "last": -1}


def _month_of(relation: str | None, today: date) -> date:
    """The first day of the month "next month", "this month" or "the previous month" names."""
    first = today.replace(day=1)
    if relation in ("next", "following"):
        return (first + timedelta(days=32)).replace(day=1)
    if relation in ("previous", "last"):
        return (first - timedelta(days=1)).replace(day=1)
    return first


def _nth_weekday_date(groups: dict[str, str | None], today: date, raw: str) -> date:
    """ "the first monday of march", "the last friday of the month", "the last day of october 2015"."""
    if groups["mon"]:
        month = _MONTHS[groups["mon"]]
        year = int(groups["y"]) if groups["y"] else today.year
        first = date(year, month, 1)
        # Without a year, a month that ended more than a month ago is next year's (as with dates).
        if not groups["y"] and date(year, month, 28) < today - timedelta(days=31):
            first = date(year + 1, month, 1)
    else:
        first = _month_of(groups["rel"], today)
    days = [first + timedelta(days=n) for n in range(31) if (first + timedelta(days=n)).month == first.month]
    found = _nth_of(days, groups, raw)
    return found if groups["mon"] else _this_month_unless_passed(found, groups["rel"], today, raw)


def _this_month_unless_passed(found: date, relation: str | None, today: date, raw: str) -> date:
    """``found``, unless "of the month" (not "this" or "next") names a day already passed: either is meant."""
    if relation is None and found < today:
        raise TimeParseError(f'"{raw}": the one this month has passed — say "of this month" or "of next month"')
    return found


def _nth_of(days: list[date], groups: dict[str, str | None], raw: str) -> date:
    """The first, second... or last of ``days`` (all of one month) that is the weekday asked for."""
    first = days[0]
    nth_text = str(groups["nth"])
    nth = int(nth_text[0]) if nth_text[0].isdigit() else _NTH_NUMBERS[nth_text]
    if groups["wd"] != "day":
        days = [d for d in days if d.weekday() == _WEEKDAYS[str(groups["wd"])]]
    if nth > len(days):
        raise TimeParseError(f'"{raw}": {first:%B %Y} has no {groups["nth"]} {groups["wd"]} — name the date')
    return days[nth - 1] if nth > 0 else days[-1]


def _day_number(text: str) -> int:
    return _ORDINAL_WORDS[text] if text in _ORDINAL_WORDS else int(re.sub(r"\D", "", text))


def _maybe_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _real_date(year: int, month: int, day: int, raw: str) -> date:
    found = _maybe_date(year, month, day)
    if found is None:
        raise TimeParseError(f'"{raw}" is not a real date — check the day and the month')
    return found


def weekday_of(match: re.Match[str]) -> int:
    """The weekday (Monday 0) a weekday part names."""
    return _WEEKDAYS[match["wd"]]


def weekday_date(match: re.Match[str], today: date, raw: str) -> date:
    """The date a weekday part names: the coming one, "this" today included, "next" after today, "last" before it.

    A bare weekday that is today ("tuesday" said on a Tuesday) could be today or a week away:
    it is refused. So is "next X" where many mean the X a week later: "next wednesday" said
    on a Tuesday (tomorrow would be "tomorrow"), "next saturday" said on a weekday (the weekend
    ahead is "this weekend").
    """
    wanted = _WEEKDAYS[match["wd"]]
    groups = match.groupdict()
    modifier = groups.get("mod")
    name = _WEEKDAY_NAMES[wanted]
    if groups.get("count"):  # "3 fridays from now": the third one after today; "2 thursdays ago"
        count = int(groups["count"]) if groups["count"].isdigit() else _NUMBER_WORDS[groups["count"]]
        if not 1 <= count <= 520:
            raise TimeParseError(f'"{raw}": count weekdays from 1, such as "2 {name}s from now"')
        if groups["dir"] in ("ago", "back"):
            return today - timedelta(days=(today.weekday() - wanted - 1) % 7 + 1 + 7 * (count - 1))
        return today + timedelta(days=(wanted - today.weekday() - 1) % 7 + 1 + 7 * (count - 1))
    if groups.get("week"):  # "wednesday next week": weeks run Monday to Sunday, so Sunday is refused
        if wanted == 6:
            raise TimeParseError(
                f'"{raw}": some weeks start on sunday, some end on it — name the date of the sunday you mean'
            )
        shift = {"this": 0, "next": 7, "last": -7}[groups["week"]]
        return today + timedelta(days=wanted - today.weekday() + shift)
    if modifier == "after next":  # "friday after next": the one after the coming one
        ahead = (wanted - today.weekday()) % 7
        if ahead == 0:
            raise TimeParseError(f'"{raw}": {name} is today — name the date of the {name} you mean')
        return today + timedelta(days=ahead + 7)
    if modifier == "last":
        return today - timedelta(days=(today.weekday() - wanted - 1) % 7 + 1)
    ahead = (wanted - today.weekday()) % 7
    if ahead == 0 and modifier in (None, "on"):
        raise TimeParseError(
            f'"{raw}": {name} is today — say "today" or "this {name}" for today, "next {name}" for a week from now'
        )
    if ahead == 0 and modifier != "this":
        ahead = 7
    if modifier == "next" and (ahead == 1 or (wanted >= 5 and today.weekday() < 5)):
        coming, later = today + timedelta(days=ahead), today + timedelta(days=ahead + 7)
        example = f"{later:%b}".lower() + f" {later.day}"
        raise TimeParseError(
            f'"{raw}": next {name} could be {coming:%a %Y-%m-%d} or {later:%a %Y-%m-%d} — name the date, '
            f'such as "{example}"'
        )
    return today + timedelta(days=ahead)


def hour_in(clock: TimeOfDay, part: str | None, named_day: bool, raw: str) -> TimeOfDay:
    """Settle the half of the day of ``clock`` from the part of the day or the named day; refuse when unsure."""
    if clock.kind == "bare":
        if part is not None:
            hour = _PART_BARE[part].get(clock.hour)
            if hour is None:
                raise TimeParseError(
                    f'"{raw}": {clock.hour} is not a time in the {part} — write it with am/pm or as 24-hour time'
                )
        elif named_day and clock.hour in _DAY_BARE:
            hour = _DAY_BARE[clock.hour]
        elif clock.hour == 12:
            raise TimeParseError(f'"{raw}" does not say whether 12 is noon or midnight — write "noon" or "midnight"')
        else:
            pm = clock.hour % 12 + 12
            raise TimeParseError(
                f'"{raw}" does not say whether {clock.hour}:{clock.minute:02d} is in the morning or the evening — '
                f'write "{clock.hour}:{clock.minute:02d}am" or "{clock.hour}:{clock.minute:02d}pm" '
                f'(or 24-hour "{pm:02d}:{clock.minute:02d}")'
            )
        return TimeOfDay(hour, clock.minute, clock.second, kind="exact", text=clock.text)
    if part is not None and clock.hour not in _PART_RANGES[part] and not (part == "night" and clock.midnight):
        raise TimeParseError(f'"{raw}": {clock.hour:02d}:{clock.minute:02d} is not in the {part} — say one of the two')
    return clock


def as_time(clock: TimeOfDay) -> time:
    """The ``datetime.time`` of a settled clock."""
    return time(clock.hour, clock.minute, clock.second)


def _lone_number_error(raw: str, number: str) -> str:
    """What to say of a number that may be an hour, a day or a year: only a real hour gets "at N" offered."""
    if not number.isdigit():
        return f'"{raw}": is "{number}" an hour? — write "at {number}"'
    if int(number) <= 24:
        return f'"{raw}": is "{number}" an hour? — write "at {number}" or "{number}:00"'
    return f'"{raw}": "{number}" is not an hour, and a day or a year must be written as a date — {_EXACT_HINT}'
