"""The rules a rally's text and time must meet, wherever it comes from.

One set for the web form (`forms.RallyForm`, which the Telegram bot goes through too), the
CSV import (`importer`) and the API: text is normalised to NFC first (so "ў" typed as
"у" + combining breve is one letter, stored and compared as people read it), then checked.
Pure: no Flask. Messages here are English; the form shows its own translated ones.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

# How far a rally's start may lie from now. A new (pending) rally is in the future, at most
# a year ahead; an approved one imported for the record may be up to ten years old.
FUTURE_LIMIT = timedelta(days=366)
PAST_LIMIT = timedelta(days=3653)

# Invisible characters that reorder the text around them (Unicode's Bidi_Control): a place
# ending in U+202E shows the town after it backwards.
BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)
# Format characters (category Cf) a rally's text may keep: the zero-width joiner and
# non-joiner join emoji and letters; the soft hyphen only marks where a word may break.
ALLOWED_FORMAT = frozenset("\u200c\u200d\u00ad")
# Line breaks beyond \r and \n: next line, line and paragraph separators.
LINE_BREAKS = frozenset("\r\n\x0b\x0c\x85\u2028\u2029")


@dataclass(frozen=True)
class TextRule:
    """Length (in characters, after NFC) and shape of one field."""

    min_length: int
    max_length: int
    one_line: bool = True
    required: bool = False


RALLY_TEXT = {
    "title": TextRule(5, 120, required=True),
    "town": TextRule(1, 120, required=True),
    "place": TextRule(0, 200),
    "description": TextRule(0, 2000, one_line=False),
    "contact": TextRule(0, 200),
}

# Problems as keys: each entry point says them in its own words (and languages).
LINE_BREAK = "line_break"
CONTROL = "control"
DIRECTION = "direction"
FORMAT = "format"
PROBLEM_TEXT = {
    LINE_BREAK: "must be on one line",
    CONTROL: "contains control characters",
    DIRECTION: "contains invisible characters that change the direction of text",
    FORMAT: "contains invisible formatting characters",
}


def normalise(value: str | None) -> str | None:
    """NFC, without surrounding white space; None stays None.

    Every piece of text from outside goes through this before it is checked, stored or
    compared: the same letters typed decomposed and composed become the same string.
    """
    if not isinstance(value, str):
        return value
    return unicodedata.normalize("NFC", value).strip()


def text_problem(value: str, one_line: bool = True) -> str | None:
    """The first problem with the characters of `value` (a key of PROBLEM_TEXT), or None.

    Refused everywhere: control characters (tabs, and line breaks in a description, are
    fine there), direction controls and other invisible format characters. Refused in
    one-line fields: any line break or tab.
    """
    for char in value:
        if char in LINE_BREAKS or char == "\t":
            if one_line:
                return LINE_BREAK
            if char in "\r\n\t":
                continue
            return CONTROL
        if char in BIDI_CONTROLS:
            return DIRECTION
        category = unicodedata.category(char)
        if category == "Cc":
            return CONTROL
        if category == "Cf" and char not in ALLOWED_FORMAT:
            return FORMAT
    return None


def field_problem(name: str, value: str) -> str | None:
    """What is wrong with rally field `name` holding `value` (already normalised), in English.

    None when it passes. Covers emptiness, length and characters (RALLY_TEXT).
    """
    rule = RALLY_TEXT[name]
    if not value:
        return "is empty" if rule.required else None
    if len(value) < rule.min_length:
        return f"is shorter than {rule.min_length} characters"
    if len(value) > rule.max_length:
        return f"is longer than {rule.max_length} characters"
    problem = text_problem(value, rule.one_line)
    return PROBLEM_TEXT[problem] if problem else None


def start_problem(starts_at: datetime, now: datetime, approved: bool = False) -> str | None:
    """What is wrong with a rally's start time (aware), in English; None when it is fine.

    A pending rally starts in the future, within FUTURE_LIMIT. An approved one (imported
    for the record) may also lie in the past, up to PAST_LIMIT. The year is checked first,
    so a mistyped 0001 or 0207 is refused without date arithmetic that overflows.
    """
    if not now.year - 11 <= starts_at.year <= now.year + 2:
        return f"the year {starts_at.year} is not plausible"
    starts_at = starts_at.astimezone(UTC)
    if starts_at > now + FUTURE_LIMIT:
        return "it is more than a year ahead"
    if approved:
        if starts_at < now - PAST_LIMIT:
            return "it is more than ten years ago"
    elif starts_at <= now:
        return "a pending rally must be in the future (only approved ones may be past)"
    return None


# Locating hints: a heuristic, not a parser. A title or description of a rally whose place is
# hidden may give the place away before its time; the organizer is warned (never refused) with
# the phrases that look like a spot rather than a town. Three kinds of phrase count (be, ru, en),
# matched on text whose apostrophes (', ʼ, ‘) are read as the Belarusian ’ (U+2019), always from
# the start of a word to its end (never inside another word: «Сквернословие», «станцуем»):
#  1. a preposition of place («каля», «у», «на», «возле», "by", "at", ...), then at most two
#     words that read as adjectives or names («Кальварыйскіх», "the", "Lenin"), then a noun
#     that names a kind of place, by its stem and a short case ending («у стадиона», «на
#     праспекце», «by the fountain», «on Lenin Ave»);
#  2. a preposition of place right before an abbreviation («у ДК», «ля ЦУМа») or, after the
#     narrow prepositions that only say "next to" («каля», «возле», «напротив»...) and after
#     «на» (a street: «на Немиге»; not feasts or countries: «на Пасху», «на Беларусь»), before a
#     capitalised name («возле Ратуши»);
#  3. a few nouns that name a spot even alone: streets, squares, avenues, monuments, yards,
#     entrances, stops, crossroads («вуліца Леніна», «Sq.», «двор»), a house with its number;
#  4. (review 24c) an address: a street's abbreviation with or without its dot («ул Ленина
#     5», «пр. Независимости 10»), «по адресу», a label («Сбор: Немига 5»), a street-like name
#     before a house number («Ленина, 12», «Советская 3», "5 Lenin St"; not a date, time or
#     unit after it); a crossing («пересечение Ленина и Советской»), «оз. X», «метро X»,
#     «выход 2»; a name in quotes after a preposition («каля «Еўраопта»»); Russian «у» before a
#     name in the genitive («у Евроопта»);
#  5. coordinates in any form, every link, plus codes and what3words (_COORDINATES, _LINKS,
#     _GRID_CODES below);
#  6. (review 24d) a street's word with its name and number, named whole («улица Мстиславца, 9»,
#     «на улице Кирилла и Мефодия 6»), a person's name and a house number without one («Якуба
#     Коласа 12», «Мсціслаўца 9»; not what counts things: «Глава 2», «Неделя 3»); chains and
#     named places in any case after a preposition («в Макдональдсе», «у Грин-сити», «у
#     Камаровки»), a name in the instrumental after «за»/«под» («за Камароўкай»); someone's home
#     («у Насти дома», «у нас на кватэры»); a label that only names a place, with any words after
#     it but a time («Зборная кропка: Замак», "meeting point: the old oak"); an English place after
#     up to three words ("in front of the railway station"). Every phrase of a text is named.
# Not places: «на пошту» (written to), feasts and festivals after «на» («на Дожинках», «на
# Фестивале»), «У Маши» starting a sentence ("Masha has"), numbers and times after «около» («около 18:00», «около ста человек»), a noun
# with an ordinary meaning alone («остановка сердца», «Бібліятэка ідэй», «Магазинные пакеты»),
# people («рядом с друзьями»), verbs alone («Собираемся»). Weak spots, by design: a place
# named by a word not in the lists below goes unseen («у Бабушкиной избы»), and a list noun used
# figuratively after a preposition («на пороге перемен» is not listed, «в школе жизни» is).
_END = r"(?![\w’])"
_START = r"(?<![\w’])"
_CAP = r"[A-ZА-ЯЁІЎ]"
_UPPER = r"(?-i:[A-ZА-ЯЁІЎ])"  # capital even inside a case-insensitive group
_PREPOSITIONS = (
    # be
    "каля|ля|побач з|насупраць|паблізу|перад|за|пад|на|у|ў|да|ад|з боку|"
    # ru
    "возле|около|рядом с|напротив|неподал[её]ку от|недалеко от|близ|вблизи|перед|под|в|во|к|ко|до|от|"
    # en
    "at|by|near|outside|opposite|in front of|next to|behind|beside|on|in|to|across from|"
    # around, along, between (be, ru, en)
    "вакол|кругом|вокруг|уздоўж|вдоль|паміж|між|между|around|along|between"
)
# The prepositions that only say "next to": a capitalised word after them is a name of a place.
_NEXT_TO = "каля|ля|побач з|насупраць|паблізу|возле|около|рядом с|напротив|near|opposite|outside|next to|in front of"
_ADJECTIVE = (
    r"(?:" + _CAP + r"[\w’-]*"  # a name: «Кальварыйскіх», "Lenin", «Леніна»
    r"|[а-яёіў’-]+(?:ого|его|ому|ему|ой|ей|ых|их|ым|им|ая|яя|ое|ее|ые|ие|ую|ый|ий|ага|яга|аму|яму|ай|ім|ыя|ія|ае|іх)"
    r"|the|a|an|old|new|main|central|big|small|little|city|town|"
    r"[a-z][a-z’-]{0,20})"
)
# Kinds of place by stem (any case: the pattern is case-insensitive); the ending after a stem
# is at most four letters, so a stem never matches the start of a longer unrelated word.
_ENDING = r"[а-яёіў]{0,4}"
_PLACE_NOUNS = (
    # be
    r"вуліц|завул(?:ак|к)|плошч|праспек|парк|помнік|дв[ао]р|пад’езд|прыпын(?:ак|к)|"
    r"станцы|ганак|ганк|фантан|будын(?:ак|к)|крам|рын(?:ак|к)|вакзал|царкв|царкоў|"
    r"касц[её]л|кінатэатр|бібліятэк|гасцініц|набярэжн|скрыжаванн|перакрыжаванн|стадыён|"
    r"музе|школ|ратуш|тэатр|універсітэт|інстытут|палац|мост|могілк|могілак|бераз|берага|бераг|"
    r"возер|цырк|пасольств|амбасад|веж|кафэ|рэстаран|універсам|завод|праходн|"
    r"пляц|гараж|капліц|кіёск|кіоск|бюст|абеліск|аптэк|супермаркет|гіпермаркет|універмаг|"
    r"выканкам|гарвыканкам|райвыканкам|адміністрацы|паліклінік|бальніц|паштамт|банк|сажалк|пляж|"
    r"прыстан|пераход|падземк|аўтавакзал|шапік|ратонд|вакзал|капэл|брам|прыступк|лесвіц|"
    # ru
    r"улиц|переул(?:ок|к)|площад|проспек|памятник|под[ъ’]езд|остановк|станци|здани|фонтан|"
    r"магазин|вокзал|церкв|церковь|храм|кинотеатр|библиотек|гостиниц|набережн|перекр[её]ст(?:ок|к)|"
    r"угл|угол|стадион|музе|ратуш|театр|университет|институт|дворц|дворец|кладбищ|берег|"
    r"озер|посольств|башн|кафе|ресторан|универсам|цирк|проходн|завод|мемориал|"
    r"часовн|киоск|ларьк|ларёк|обелиск|аптек|гипермаркет|универмаг|исполком|горисполком|"
    r"райисполком|администраци|поликлиник|больниц|почтамт|пруд|пристан|переход|подземк|автовокзал|"
    r"ротонд|рощ|кост[её]л|ступен|лестниц|"
    # both: shops and centres by their names
    r"цум|гум|тц|трц|дк"
)
_EN_NOUNS = (
    r"(?:fountain|stadium|museum|school|station|square|sq\.|avenue|ave\.?|street|st\.|park|"
    r"monument|statue|memorial|library|theatre|theater|church|cathedral|market|mall|cinema|"
    r"hall|entrance|building|corner|bus stop|bridge|gate|embassy|university|office|shop|store|"
    r"cafe|café|restaurant|hotel|river|riverside|embankment|cemetery|crossroads|intersection|"
    r"metro|tower|palace|courtyard|yard|pub|circus|factory|house|opera|supermarket|kiosk|"
    r"pharmacy|bank|garage|chapel|bust|stele|obelisk|flame|plaza|exit|pier|beach|lake|pond|"
    r"forest|woods|hospital|town hall|city hall|court|courthouse|car park|parking lot|"
    r"playground|junction|roundabout|arch|shore|underpass|subway)s?"
)
_EXACT = (  # stems whose other words are no places: the endings are spelled out
    r"сквер(?:|а|у|е|ы|ам|ах|амі|ом|ов)|(?:[уў]ва|в)ход(?:|а|у|е|ом|ы|ов|ам|ах|зе|ы)|р[ао]г(?:|у|а|е|і)|"
    r"рак(?:а|і|е|у|ой)|рек(?:а|и|е|у|ой)|метро|"
    # landmarks whose stems begin other words («стэлька», «огнетушитель», «аркан», «лесник»)
    r"сквэр(?:|а|у|ы|ам|ах|амі)|ст[еэ]л(?:а|ы|е|у|ой|ай)|(?:о|а)гн(?:я|ю)|огонь|агонь|"
    r"арк(?:а|і|и|е|у|ой|ай)|вор[оа]т(?:|а|ы|ам|ах)|вар[оа]т(?:ы|ам|ах|аў)|"
    # the post office, not the post written to («пішыце на пошту», «пишите на почту»)
    r"пошт(?:ы|ай|аю)|пошце|почт(?:ы|е|ой|ою)|"
    # a castle («у замку»), not a lock («под замком»)
    r"зам(?:ак|ка|ку|ке|ок)|"
    r"лес(?:|а|у|е|ом)|ляс(?:|а|у|е|ок|ку)|гай|гаі|гаю|суд(?:а|ом)|выход(?:|а|у|е|ом)|выхад(?:|у|зе)"
)
_NOUN = (
    r"(?i:(?:" + _PLACE_NOUNS + r")" + _ENDING + r"|" + _EXACT + r"|" + _EN_NOUNS + r")(?![\w’])"
)
# «ДК», «ЦУМа», «БГУ»; not countries and unions («в США», «у ЕС»)
_ABBREVIATION = (
    r"(?!(?:США|ЗША|ЕС|ЭС|РБ|РФ|ООН|ААН|СССР|ЕАЭС|EU|UN|USA|UK|NATO|НАТО)[а-яёіў]{0,2}(?![\w’]))"
)
_ABBREVIATION += r"[A-ZА-ЯЁІЎ]{2,5}[а-яёіў]{0,2}" + _END
_ALONE = (
    # be
    r"вуліц" + _ENDING,
    r"вул\.",
    r"завул(?:ак|к)" + _ENDING,
    r"плошч" + _ENDING,
    r"пл\.",
    r"праспек" + _ENDING,
    r"прасп\.",
    r"пр-т",
    r"помнік" + _ENDING,
    r"сквер(?:|а|у|е|ы|ам|ах|амі)",
    r"дв[ао]р(?:|а|ы|у|ам|ах|е)",
    r"пад’езд" + _ENDING,
    r"прыпын(?:ак|к)" + _ENDING,
    r"скрыжаванн" + _ENDING,
    r"набярэжн" + _ENDING,
    r"(?:ля|каля|у|ў|перад|побач з) уваход" + _ENDING,
    # ru
    r"улиц" + _ENDING,
    r"ул\.",
    r"переул(?:ок|к)" + _ENDING,
    r"площад" + _ENDING,
    r"проспек" + _ENDING,
    r"памятник" + _ENDING,
    r"под[ъ’]езд" + _ENDING,
    r"перекр[её]ст(?:ок|к)" + _ENDING,
    r"набережн" + _ENDING,
    r"(?:на|за) углу",
    # a crossing of streets, a lake, a river, a district by its abbreviation
    r"(?:пересечени|перасячэнн)" + _ENDING + r"(?:\s+(?:улиц|вуліц|вул\.|ул\.)\w*)?"
    r"(?:\s+" + _UPPER + r"[\w’-]+(?:\s+(?:и|і|з|с)\s+" + _UPPER + r"[\w’-]+)?)?",
    r"(?:угол|рог|corner of)\s+" + _UPPER + r"[\w’-]+",
    r"(?:оз|воз|р|мкр|мкрн|мікр|микр)\.\s*" + _UPPER + r"[\w’-]*",
    # an address: the word, or a street abbreviation (with or without its dot) before a name
    r"(?:по адресу|па адрасе|по адресу:|адрес:|адрас:|address:?)\s+[^.;!?\n]{1,40}",
    r"(?:ул|вул|пр|пр-т|пр-кт|просп|прасп|пер|зав|бул|б-р|пл|наб|str|vul|ul|prosp|prasp|pr-t)\.?\s+"
    + _UPPER
    + r"[\w’-]+(?:\s+"
    + _UPPER
    + r"[\w’-]+)?(?:,?\s*\d{1,3}(?:[а-дa-d]|/\d{1,3})?(?![\w]))?",
    # landmarks named alone: the eternal flame, a metro station and its exit
    r"вечн(?:ы|ага|ы|ым|ым|ый|ого|ым|ому)\s+(?:о|а)г\w*",
    r"eternal flame",
    r"метро\s+«?" + _UPPER + r"[\w’-]+",
    r"(?:выход|выхад|exit)\s*№?\s*\d+",
    r"ст\.\s*м\.\s*" + _UPPER + r"[\w’-]+",
    # both: a house with its number, a school with its number, shops and centres by name
    r"(?:дом|дома|доме|дому|д\.?|корпус|корп\.)\s*№?\s*\d+",
    r"школ" + _ENDING + r"\s*№\s*\d+",
    r"(?:цум|гум|тц|трц)" + _ENDING,
    # en
    r"street" + r"s?",
    r"st\.",
    r"square",
    r"sq\.",
    r"avenue",
    r"ave\.",
    r"monument",
    r"bus stop",
    r"corner",
    r"entrance",
)
_PREP = r"(?i:" + _PREPOSITIONS + r")"
_STREET_WORDS = r"вуліц|завул(?:ак|к)|плошч|праспек|бульвар|улиц|переул(?:ок|к)|площад|проспек"
# A name of a street, one or two capitalised words («Якуба Коласа», «Кирилла и Мефодия»),
# and a house number after it (not a date, a time or a unit: _NOT_A_HOUSE)
_NAME = _UPPER + r"[\w’-]{1,30}"
_NAMES = _NAME + r"(?:\s+(?:(?i:и|і)\s+)?" + _NAME + r")?"
_HOUSE_NUMBER = r"\s*,?\s*(?:(?i:д\.|дом|№)\s*)?\d{1,3}(?:[а-дa-d]|/\d{1,3})?(?![\w:.,’]?\d)(?!\w)"
# words that count things and take a number: «Статья 342», «Глава 2», «Неделя 3»
_COUNTED = (
    r"(?i:Стать|Артыкул|Глав|Раздел|Падраздзел|Пункт|Частк|Част|Групп|Груп|Клас|Недел|Тыдз|"
    r"Дзен|День|Дня|Дн[яі]|Акци|Акцы|Встреч|Сустрэч|Номер|Нумар|Этап|Сезон|Сери|Серы|Выпуск|Том|"
    r"Страниц|Старонк|Минут|Хвілін|Урок|Раунд|Тур|Пикет|Пікет|Марш|Шестви|Шэсц|Год|Гад|Лет|"
    r"Верси|Версі|Часть|Chapter|Part|Day|Week|Article|Section|Round|Group|Class)"
)
_NOT_PLACES = (
    r"Пасх|Радаўніц|Радуниц|Дзяд|Каляд|Рождеств|Нов[ыа]|Купал(?!ы)|Івана Купал|Ивана Купал|"
    r"Вялікдз|Вялікдн|Троіц|Троиц|Дожин|Дажын|Зажын|Масленіц|Масленниц|Маслениц|Гуканн|"
    r"Вадохрышч|Крещени|Хрышчэнн|Покров|Пакроў|Ражаств|Спас(?![\w’])|Славянск|"
    r"Фестыв|Фестив|Канцэрт|Концерт|Марафон|Форум|Кангрэс|Конгресс|Конференц|Канферэнц|"
    r"Выбар|Выбор|Марш|Акцы|Акци|Дн(?:е|ём|я|і|ю)(?![\w’])|"
    r"Дзень|День|Беларус|Украін|Украин|Росси|Расі|Літв|Литв|Польш|Латві|Латви|Еўроп|Европ"
)
_MONTHS = (
    r"студзен|студзен|лют|сакавік|красавік|трав|чэрвен|ліп|жнів|верас|кастрычнік|лістапад|"
    r"снеж|январ|феврал|март|апрел|ма[яйе]|июн|июл|август|сентябр|октябр|ноябр|декабр|"
    r"jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec"
)
_WEEKDAYS = (
    r"Панядз|Аўтор|Серад|Чацв|Пятн|Пятніц|Субот|Нядзел|Понед|Вторн|Сред|Четв|Пятниц|Воскрес|"
    r"Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday|Студзен|Лют|Сакав|Красав|Трав|"
    r"Чэрв|Ліп|Жнів|Верас|Кастр|Лістап|Снеж|Январ|Феврал|Март|Апрел|Ма[йя]|Июн|Июл|Август|"
    r"Сентябр|Октябр|Ноябр|Декабр|January|February|March|April|May|June|July|August|"
    r"September|October|November|December"
)
# What follows a number that is no house: a month, a unit, a time
_NOT_A_HOUSE = (
    r"(?!\s*(?i:" + _MONTHS + r"|гадз|гадоў|год|гад|лет|час|мин|хв|сек|чал|чел|рубл|руб|кап|"
    r"раз|%|°|pm|am|h\b|min|people|years|percent|o’clock|th\b|st\b|nd\b|rd\b|-?[ыйяго]\b))"
)
# after a place noun or a street word, its name and house number: «на улице Якуба Коласа, 12»
_TAIL = r"(?:\s+(?:(?i:имени|імя)\s+)?" + _NAMES + r")?(?:" + _HOUSE_NUMBER + _NOT_A_HOUSE + r")?"
# Chains and named places of Belarusian towns, any case («в Макдональдсе», «у Грин-сити»,
# «за Камароўкай», «ля Еўраопта»): a town's own name after «в»/«у» is no spot, these are
_CHAINS = (  # in any letters: no other word begins so
    r"макдональдс|макдак|mcdonald’?s|kfc|бургер кинг|бургер кінг|burger king|старбакс|starbucks|"
    r"евроопт|еўраоп|euroopt|гиппо|гіпа|виталюр|віталюр|доброном|белмаркет|бялмаркет|"
    r"остров[аеуом]* чистоты|galleria|dana mall|дана молл|дана мол|экспобел|экспабел|"
    r"ждановичи|ждановіч|камаровк|камароўк|комаровк|камароўц|комаровц|камаровц|пицца темпо|"
    r"піца тэмпа|лидо"
)
_BRANDS = (  # with a capital: the same word in lower case is a common one («in green», «соседи»)
    r"(?-i:Корон|Карон|Санта|Сосед|Сусед|Алми|Алмі|Грин|Грын|Green|Мила|Міла|Галере|Галерэ|"
    r"Титан|Тытан|Васильк|Васількі|Доміно|Домино|"
    r"[А-ЯЁІЎA-Z][\w’]{1,20}-(?i:сити|сіці|city|молл|мол|mall|плаза|plaza|парк|park|центр|цэнтр))"
)
_CHAIN = r"(?:(?i:" + _CHAINS + r")|" + _BRANDS + r")[\w’]{0,4}(?:-[\w’]{1,12})?" + _END
# someone's home: «у Насти дома», «у нас на квартире», «дома ў Насці»
_WHOSE = (
    r"(?:меня|мяне|нас|него|неё|нее|яго|яе|них|іх|тебя|цябе|вас|бабушки|дедушки|мамы|папы|"
    r"бабулі|дзядулі|маці|таты|бацькоў|родителей|друга|подруги|сябра|сяброўкі|" + _NAME + ")"
)
_AT_HOME = r"(?i:дома|на квартире|на кватэры|на даче|на дачы|на лецішчы|в гостях|у гасцях)"
_UNCOUNTED = r"(?!" + _COUNTED + r")"
_STREET_OF = _UNCOUNTED + _NAME + r"\s+(?:(?i:и|і)\s+)?" + _UNCOUNTED + _NAME
_STREET_OF_ONE = _UNCOUNTED + _UPPER + r"[а-яёіў’-]{1,30}[бвгджзклмнпрстфхцчшщў]а"
_INSTRUMENTAL = r"(?:ой|ай|ей|ёй|ом|ам|ым|ім|ою|аю|ами|амі|ями|ямі)"
_NAMED_NEXT_TO = r"(?:[«\"„“]" + _CAP + r"[\w’-]+»?|" + _CAP + r"[\w’-]+" + _TAIL + ")"
_LABEL_END = r"\s*[:—–]\s*(?!" + _NOT_PLACES + r"|" + _WEEKDAYS + r")"
LOCATING_PATTERNS = (
    # a street's abbreviation, its name and number, whole: «Ул. Якуба Коласа, д. 12»
    r"(?i:ул|вул|пр|пр-т|пр-кт|просп|прасп|пер|зав|бул|б-р|пл|наб)(?:\.\s*|\s+)"
    + _NAMES
    + r"(?:"
    + _HOUSE_NUMBER
    + _NOT_A_HOUSE
    + r")?",
    # a street by its word, name and number: «улица Мстиславца, 9», «вуліца Якуба Коласа 12»
    r"(?i:(?:" + _STREET_WORDS + r")" + _ENDING + r")(?![\w’])" + _TAIL,
    # a street named after a person with a house number and no street word: «Якуба Коласа 12»,
    # «Кирилла и Мефодия 6», «Мсціслаўца 9»; not what counts things («Статья 342»)
    _STREET_OF + _HOUSE_NUMBER + _NOT_A_HOUSE,
    _STREET_OF_ONE + _HOUSE_NUMBER + _NOT_A_HOUSE,
    # someone's home
    r"(?i:у|ў|в)\s+" + _WHOSE + r"\s+" + _AT_HOME + _END,
    _AT_HOME + r"\s+(?i:у|ў)\s+" + _WHOSE + _END,
    # «за Камароўкай», «под Ждановичами»: a name in the instrumental after «за», «под», «перад»
    r"(?i:за|под|пад|перад|перед|над)\s+(?!" + _NOT_PLACES + r")" + _NAME + _INSTRUMENTAL + _END,
    _PREP + r"\s+(?:" + _ADJECTIVE + r"\s+){0,3}" + _NOUN + _TAIL,
    # a chain's shop or a named place after any preposition of place, in any case
    _PREP + r"\s+[«\"„“]?" + _CHAIN + r"»?",
    _PREP + r"\s+" + _ABBREVIATION,
    r"(?i:" + _NEXT_TO + r")\s+(?:the\s+)?" + _NAMED_NEXT_TO,
    # a name in quotes after any preposition of place: «у «Еўраопце»», "at “Korona”"
    _PREP + r"\s+(?:" + _ADJECTIVE + r"\s+)?[«\"„“]" + _CAP + r"[^«»\"„“”]{0,40}[»\"“”]",
    # «у Евроопта», «у Короны»: Russian «у» with a name in the genitive is "next to" (Belarusian
    # «у» is "in", and a town after it ends otherwise: «у Мінску», «у Гродне»)
    # (a name in -и only after a lower-case «у»: «У Маши сегодня праздник» is "Masha has")
    r"(?:(?i:у)\s+(?!" + _NOT_PLACES + r")[А-ЯЁ][а-яё-]+(?:а|я|ы)"
    r"|у\s+(?!" + _NOT_PLACES + r")(?![А-ЯЁ][а-яё-]+ии(?![\w’]))[А-ЯЁ][а-яё-]+и)(?![\w’])" + _TAIL,
    # a label then a name: «Сбор: Немига 5», «Месца збору: Кальварыя», "Meeting point: Korona"
    r"(?i:сбор|збор|где|дзе|адрес|адрас|where)" + _LABEL_END + r"[«\"„“A-ZА-ЯЁІЎ][^.;!?\n]{0,40}",
    # «Зборная кропка: Замак», «Месца збору: ля ракі», "Meeting point: the old oak": after a
    # label that only names a place, any words but a time or a day
    r"(?i:(?:место|месца|точка|кропка|пункт)\s+(?:сбора|збору|встречи|сустрэчы|сходу)|"
    r"зборная кропка|зборны пункт|сборный пункт|точка сбора|кропка збору|"
    r"meeting (?:point|place|spot)|meet(?:ing)? (?:point|spot)|gathering (?:point|place)|"
    r"venue|location|локация|лакацыя)\s*(?:[:—–]|-(?=\s))\s*"
    r"(?!(?i:в|у|ў|at|on|around|каля|около|с|з|from)?\s*\d{1,2}(?:[:.]\d\d|\s*(?:pm|am|h))(?![\w]))"
    r"[^\s.;!?][^.;!?\n]{0,40}",
    # «на Немиге», «на Кастрычніцкай»: a street or a square by its name; not feasts and countries
    r"(?i:на)\s+(?!" + _NOT_PLACES + r")[А-ЯЁІЎ][а-яёіў’-]+" + _TAIL,
    r"(?i:(?:" + "|".join(_ALONE) + r"))" + _END,
    # a street's name and a house number: «Ленина, 12», «Советская 3», «Купалы 12а»; not a
    # date or a time after a name («Салідарнасці 21 кастрычніка», «Минск, 19:00»)
    _UNCOUNTED
    + r"[А-ЯЁІЎ][а-яёіў’-]*(?:ская|цкая|ая|яя|ого|ага|ина|іна|ына|ова|ева|ёва|ава|іча|ича|ости|"
    r"асці|ы|і|ей|аў|ов)\s*,?\s*\d{1,3}(?:[а-дa-d]|/\d{1,3})?(?![\w:.,’]?\d)(?!\w)" + _NOT_A_HOUSE,
    # "5 Lenin St", "Lenin St" (not "St Petersburg"), "Lenina 5"
    r"\d{1,4}\s+[A-Z][\w’-]+(?:\s+[A-Z][\w’-]+)?\s+(?:St|Street|Ave|Avenue|Rd|Road|Blvd|"
    r"Boulevard|Lane|Ln|Sq|Square|Prospekt|Pr|Prosp|Ul)\b\.?",
    r"[A-Z][\w’-]+\s+(?:St|Ave|Rd|Blvd|Sq|Ln)\b\.?(?!\s+[A-Z])",
    r"[A-Z][a-z’-]+(?:aya|skaya|ogo|ova|eva|ina|yna|icha|aly)\s*,?\s*\d{1,3}(?![\w:.,]?\d)(?!\w)"
    + _NOT_A_HOUSE,
)
_LOCATING = re.compile(_START + r"(?:" + "|".join(LOCATING_PATTERNS) + ")")
APOSTROPHES = str.maketrans({"'": "\u2019", "\u02bc": "\u2019", "\u2018": "\u2019"})

# Coordinates in any form: two decimal numbers («53.6780, 23.8290», «53,9 27,56», "N53.9
# E27.56"), degrees with minutes («53°54′N 27°33′E»), a geo: URI, a labelled latitude. A
# pair counts when it can be a point in or around Belarus (either order), or when both
# numbers have four decimals or more (a precise point anywhere); not a time or a price
# («18.30, 19.00», «5,50 руб»): those are out of range.
_HEMISPHERE = r"(?:[NSEWnsew]|[сюзСЮЗ]\.?\s*[шдШД]\.?|в\.?\s*д\.?|пн\.?\s*ш\.?|у\.?\s*д\.?)"
_DECIMAL = r"[-+−]?\d{1,3}[.,]\d{1,8}"
_DEGREES = (
    r"\d{1,3}(?:[.,]\d+)?\s*°\s*(?:\d{1,2}(?:[.,]\d+)?\s*[′’´']\s*)?"
    r"(?:\d{1,2}(?:[.,]\d+)?\s*(?:″|\"|’’|′′|”|'')\s*)?"
)
_COORDINATES = re.compile(
    r"(?<![\w.,])(?:"
    r"(?P<pair>(?:"
    + _HEMISPHERE
    + r"\s*)?(?P<a>"
    + _DECIMAL
    + r")\s*°?\s*(?:"
    + _HEMISPHERE
    + r"\s*)?(?:[,;/]\s*|\s+)(?:"
    + _HEMISPHERE
    + r"\s*)?(?P<b>"
    + _DECIMAL
    + r")\s*°?"
    r"(?:\s*" + _HEMISPHERE + r")?)(?![\d])"
    r"|(?:"
    + _HEMISPHERE
    + r"\s*)?"
    + _DEGREES
    + _HEMISPHERE
    + r"?(?:[\s,;]*(?:"
    + _HEMISPHERE
    + r"\s*)?"
    + _DEGREES
    + _HEMISPHERE
    + r"?)?"
    r"|geo:\s*[-+]?\d[^\s]*"
    r"|(?i:lat|lon|lng|latitude|longitude|широта|долгота|шырата|даўгата|шыр|шир|дав|долг)\.?\s*[:=]?\s*"
    + _DECIMAL
    + r")"
)
# Links: any. A map's link gives the place away (OpenStreetMap, Google's maps.app.goo.gl and
# goo.gl/maps, Yandex's yandex.by/maps and ya.cc, 2GIS, anything with lat/lon in it), and
# behind a shortener (bit.ly, clck.ru, t.me's posts) any link may lead to a map or to the
# place in words, which its owner can change at any time: what a link leads to is public
# with the text. So every link is named, by what it is (the warning says "may").
_TLDS = (
    r"by|ru|com|org|net|gl|cc|me|ly|io|su|info|link|app|to|gd|co|page|site|xyz|eu|ua|pl|lt|lv|"
    r"de|is|gs|im|cz|sk|tk|ws|fm|tv|рф|бел"
)
_LINKS = re.compile(
    r"(?i:(?:https?://|www\.)[^\s<>«»\"]+"
    r"|(?<![@\w.-])(?:[a-z0-9-]+\.)+(?:" + _TLDS + r")(?:/[^\s<>«»\"]*)?(?![\w.-])"
    # a host and a path, whatever its domain: surl.li/abc, lnkd.in/x
    r"|(?<![@\w.-])(?:[a-z0-9-]+\.)+[a-z]{2,10}/[^\s<>«»\"]+)"
)


# Plus codes (Open Location Code: «9G5M+8X», «9G5M8X+8X», short «9G5M+8X Минск»; the letters
# are its alphabet, the part before + has an even length) and what3words ("///index.home.raft",
# "w3w: index.home.raft", three lower-case words with dots): each names a spot of a few metres.
_OLC = "23456789CFGHJMPQRVWXcfghjmpqrvwx"
_GRID_CODES = re.compile(
    r"(?<![\w+])(?:[" + _OLC + r"0]{2}){2,4}\+[" + _OLC + r"]{2,3}(?![\w+])"
    r"|(?:(?i:w3w|what3words|what ?3 ?words)\s*[:—–-]?\s*(?:///)?|///)[^\W\d_]+\.[^\W\d_]+\.[^\W\d_]+"
    r"|(?<![\w./@-])[^\W\d_A-ZА-ЯЁІЎ]{3,20}\.[^\W\d_A-ZА-ЯЁІЎ]{3,20}\.[^\W\d_A-ZА-ЯЁІЎ]{3,20}(?![\w./@-])"
)


def _plausible(match: re.Match[str]) -> bool:
    """A coordinate pair in or around Belarus, or two precise decimals; anything else found
    by _COORDINATES (degrees with minutes, geo:, a labelled latitude) is a point."""
    if not match.group("pair"):
        text = match.group(0)
        # a lone temperature («-5°») is no point: degrees need minutes, a second number or
        # a hemisphere
        return "°" not in text or bool(re.search(r"[′’´']|°.*\d|°\s*" + _HEMISPHERE, text))
    a, b = (match.group(n).replace(",", ".").replace("−", "-") for n in ("a", "b"))
    x, y = float(a), float(b)
    near = any(50 <= lat <= 57 and 22 <= lon <= 34 for lat, lon in ((x, y), (y, x)))
    precise = all(len(n.split(".")[1]) >= 4 for n in (a, b))
    return near or (precise and abs(x) <= 180 and abs(y) <= 180)


def locating_hints(
    description: str | None, place: str | None = None, title: str | None = None
) -> list[str]:
    """The words of the title and description that seem to say where a hidden place is, as
    written there (each once), the place's own text first; empty when none is found."""
    texts = [" ".join(text.split()) for text in (title, description) if text]
    if not texts:
        return []
    found: list[str] = []
    own = " ".join((place or "").split()).translate(APOSTROPHES).casefold()
    for text in texts:
        if len(own) >= 3 and own in text.translate(APOSTROPHES).casefold():
            found.append(" ".join(place.split()))  # type: ignore[union-attr]
            break
    for text in texts:
        for pattern in (_LINKS, _GRID_CODES, _COORDINATES):
            for match in pattern.finditer(text):
                if pattern is not _COORDINATES or _plausible(match):
                    word = match.group(0).strip(" ,;").rstrip(".,;:)»!?")
                    if not any(word.casefold() in seen.casefold() for seen in found):
                        found.append(word)
        # links and coordinates are not read again as words («maps.app.goo.gl/Ab12»)
        for pattern in (_LINKS, _GRID_CODES):
            text = pattern.sub(lambda m: " " * len(m.group(0)), text)
        # one character for one: the match's span is the same in the original text
        for match in _LOCATING.finditer(text.translate(APOSTROPHES)):
            word = text[match.start() : match.end()].strip(" ,")
            if not any(word.casefold() in seen.casefold() for seen in found):
                found.append(word)
    return found
