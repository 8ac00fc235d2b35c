"""French départements: code → name, and whether an official alert's area names one of them.

The alert feeds name places their own way: MeteoAlarm's CAP ``areaDesc`` gives the département's
name ("Hérault"), Vigicrues a river section ("Hérault aval", "Orb amont"), others the code
("34", "FR-34"). An area matches a listed département when it holds its code as a whole token
or its name as whole words (case and accents folded). A river section named after a river that
names a département matches it: in Occitanie the two mostly coincide, and a false alarm costs a
manager's "Decline", a missed one far more.
"""

from __future__ import annotations

from collections.abc import Iterable

import regex

from personas.policy.text import fold

NAMES = {
    "01": "Ain", "02": "Aisne", "03": "Allier", "04": "Alpes-de-Haute-Provence", "05": "Hautes-Alpes",
    "06": "Alpes-Maritimes", "07": "Ardèche", "08": "Ardennes", "09": "Ariège", "10": "Aube", "11": "Aude",
    "12": "Aveyron", "13": "Bouches-du-Rhône", "14": "Calvados", "15": "Cantal", "16": "Charente",
    "17": "Charente-Maritime", "18": "Cher", "19": "Corrèze", "2A": "Corse-du-Sud", "2B": "Haute-Corse",
    "21": "Côte-d'Or", "22": "Côtes-d'Armor", "23": "Creuse", "24": "Dordogne", "25": "Doubs", "26": "Drôme",
    "27": "Eure", "28": "Eure-et-Loir", "29": "Finistère", "30": "Gard", "31": "Haute-Garonne", "32": "Gers",
    "33": "Gironde", "34": "Hérault", "35": "Ille-et-Vilaine", "36": "Indre", "37": "Indre-et-Loire",
    "38": "Isère", "39": "Jura", "40": "Landes", "41": "Loir-et-Cher", "42": "Loire", "43": "Haute-Loire",
    "44": "Loire-Atlantique", "45": "Loiret", "46": "Lot", "47": "Lot-et-Garonne", "48": "Lozère",
    "49": "Maine-et-Loire", "50": "Manche", "51": "Marne", "52": "Haute-Marne", "53": "Mayenne",
    "54": "Meurthe-et-Moselle", "55": "Meuse", "56": "Morbihan", "57": "Moselle", "58": "Nièvre", "59": "Nord",
    "60": "Oise", "61": "Orne", "62": "Pas-de-Calais", "63": "Puy-de-Dôme", "64": "Pyrénées-Atlantiques",
    "65": "Hautes-Pyrénées", "66": "Pyrénées-Orientales", "67": "Bas-Rhin", "68": "Haut-Rhin", "69": "Rhône",
    "70": "Haute-Saône", "71": "Saône-et-Loire", "72": "Sarthe", "73": "Savoie", "74": "Haute-Savoie",
    "75": "Paris", "76": "Seine-Maritime", "77": "Seine-et-Marne", "78": "Yvelines", "79": "Deux-Sèvres",
    "80": "Somme", "81": "Tarn", "82": "Tarn-et-Garonne", "83": "Var", "84": "Vaucluse", "85": "Vendée",
    "86": "Vienne", "87": "Haute-Vienne", "88": "Vosges", "89": "Yonne", "90": "Territoire de Belfort",
    "91": "Essonne", "92": "Hauts-de-Seine", "93": "Seine-Saint-Denis", "94": "Val-de-Marne", "95": "Val-d'Oise",
    "971": "Guadeloupe", "972": "Martinique", "973": "Guyane", "974": "La Réunion", "975": "Saint-Pierre-et-Miquelon",
    "976": "Mayotte",
}  # fmt: skip


def name_of(code: str) -> str:
    return NAMES.get(code, code)


def _words(text: str) -> str:
    """Folded, hyphens and apostrophes as spaces: "Côte-d'Or" and "cote d or" read the same."""
    return " " + " ".join(regex.split(r"[^\p{L}\p{N}]+", fold(text))) + " "


def _has_code(area: str, code: str) -> bool:
    return regex.search(rf"(?<![\p{{L}}\p{{N}}]){regex.escape(code)}(?![\p{{N}}])", area, regex.IGNORECASE) is not None


#: the names, longest first: "Haute-Loire" is read before "Loire" can claim it
_BY_LENGTH = sorted(((f" {_words(name).strip()} ", code) for code, name in NAMES.items()), key=lambda p: -len(p[0]))


def named_in(area: str) -> set[str]:
    """The codes of the départements whose names the area holds (a longer name hides a shorter one)."""
    words, found = _words(area), set()
    for name, code in _BY_LENGTH:
        if name in words:
            found.add(code)
            words = words.replace(name, " ")
    return found


def match(area: str | None, codes: Iterable[str]) -> str | None:
    """The first of ``codes`` the area names (by code or by name), else None."""
    if not area:
        return None
    named = named_in(area)
    for code in codes:
        if code in named or _has_code(area, code):
            return code
    return None
