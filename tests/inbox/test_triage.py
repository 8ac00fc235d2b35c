"""Triage: each detector with what it must find and the near misses it must leave alone."""

from __future__ import annotations

import pytest

from core.channels.contract import InboxKind
from core.inbox.triage import HATEFUL_LEXICON, triage


def _nir(thirteen: str) -> str:
    """A NIR with its right key (Corsica's 2A counts as 19, 2B as 18)."""
    digits = thirteen.replace(" ", "").upper().replace("2A", "19").replace("2B", "18")
    return f"{thirteen} {97 - int(digits) % 97:02d}"


VALID_NIR = _nir("1 85 05 78 006 084")  # key 91
CORSICAN_NIR = _nir("2 69 02 2A 123 456")
CORSICAN_NIR_B = _nir("1 90 11 2B 033 012")


def personal(text: str) -> tuple[str, ...]:
    return triage(text, InboxKind.COMMENT, institutional=False).personal_data


# ---------------------------------------------------------------------- personal data


@pytest.mark.parametrize(
    ("text", "kinds"),
    [
        # e-mail
        ("Écrivez-moi à jean.dupont@orange.fr merci", ("email",)),
        ("MARIE-Claire.Lefèvre+region@Exemple.Gouv.FR", ("email",)),
        ("suivez @RegionOccitanie sur X", ()),  # a handle, not an address
        ("rendez-vous @ 18h", ()),
        # phone
        ("appelez-moi au 06 12 34 56 78", ("phone",)),
        ("mon fixe : 05.61.33.50.50", ("phone",)),
        ("07-81-22-33-44 après 18h", ("phone",)),
        ("0612345678", ("phone",)),
        ("+33 6 12 34 56 78", ("phone",)),
        ("+33612345678", ("phone",)),
        ("0033 (0)5 61 33 50 50", ("phone",)),
        ("le 06/12/2026 à 10h", ()),  # a date
        ("le ticket coûte 0,50 € ou 1,20 €", ()),  # prices
        ("commande n° 1234567890", ()),  # a 10-digit number that is not a phone
        ("référence 0012345678", ()),  # 0 then 0: not a national number
        ("j'habite au 31000", ()),  # a postcode alone
        ("le 01.02.2026", ()),  # a dotted date
        ("06 12 34 56", ()),  # too short
        # NIR
        (f"mon numéro de sécu est {VALID_NIR}", ("nir",)),
        (VALID_NIR.replace(" ", ""), ("nir",)),
        (CORSICAN_NIR, ("nir",)),
        (CORSICAN_NIR_B.lower(), ("nir",)),
        (VALID_NIR[:-2] + "92", ()),  # a wrong key
        ("3 85 05 78 006 084 91", ()),  # not a sex digit
        ("commande 185057800608491234", ()),  # inside a longer number
        # postal address
        ("j'habite 12 rue de la Paix", ("address",)),
        ("au 3 bis, avenue Jean Jaurès", ("address",)),
        ("5 bd Lascrosses", ("address",)),
        ("14 allée des Demoiselles", ("address",)),
        ("22 impasse des Lilas", ("address",)),
        ("8 chemin de la Croix", ("address",)),
        ("1 place du Capitole", ("address",)),
        ("201 route de Narbonne", ("address",)),
        ("Toulouse 31000 ? non : 31000 Toulouse", ("address",)),
        ("34000 MONTPELLIER", ("address",)),
        ("la rue est fermée depuis lundi", ()),  # a street type with no number
        ("3 rues plus loin", ()),  # "rue" inside a word
        ("il y a 2 cruelles vérités", ()),
        ("il reste 1 place pour le concert", ()),  # an ambiguous type with no name after it
        ("2 cours par semaine", ()),
        ("31000 habitants", ()),  # a postcode-like number, then no town
        ("en 2026 Toulouse gagne", ()),  # four digits
        ("le 99999 Mars", ()),  # not a French postcode
        # several at once, in a fixed order
        (f"jean@exemple.fr, 06 12 34 56 78, {VALID_NIR}, 12 rue Alsace-Lorraine", ("email", "phone", "nir", "address")),
    ],
)
def test_personal_data(text: str, kinds: tuple[str, ...]) -> None:
    found = triage(text, InboxKind.COMMENT, institutional=True)
    assert found.personal_data == kinds
    assert ("personal_data" in found.flags) == bool(kinds)


def test_personal_data_is_flagged_on_every_kind_and_persona() -> None:
    for kind in InboxKind:
        for institutional in (True, False):
            assert triage("06 12 34 56 78", kind, institutional=institutional).flags == ("personal_data",)


# ---------------------------------------------------------------------- administrative and document requests


@pytest.mark.parametrize(
    ("text", "flagged"),
    [
        ("Bonjour, où en est mon dossier ?", True),
        ("Je n'ai pas reçu de réponse à ma demande de bourse", True),
        ("J'attends mon ATTESTATION depuis un mois", True),
        ("Comment obtenir la subvention pour mon association ?", True),
        ("La carte jeune de mon fils ne marche pas", True),
        ("Problème de transport scolaire à Albi", True),
        ("Numéro de dossier 2026-1234, aucune nouvelle", True),
        ("Je voudrais une aide régionale pour mon vélo", True),
        ("Inscription au lycée : qui contacter ?", True),
        ("Bravo pour le festival !", False),
        ("Le dossier de presse est très réussi", False),  # "dossier", not hers
        ("La Région subventionne trop le rugby", False),  # a verb, not her request
        ("Belle carte postale de Collioure", False),
        ("Rendez-vous à la bourse aux vélos samedi", False),  # a market, not a grant
        ("Manifestation devant la Bourse du travail", False),
        ("Vous avez oublié la demande en mariage dans le film", False),
    ],
)
def test_administrative_request(text: str, flagged: bool) -> None:
    assert ("administrative" in triage(text, InboxKind.MESSAGE, institutional=True).flags) == flagged


@pytest.mark.parametrize(
    ("text", "flagged"),
    [
        ("Je demande la communication du document budgétaire 2025", True),
        ("Pourriez-vous m'envoyer la copie de la délibération du 12 mars ?", True),
        ("Demande d'accès aux documents administratifs (loi CADA)", True),
        ("Je saisirai la CADA si besoin", True),
        ("Je souhaite obtenir le rapport de la chambre régionale des comptes", True),
        ("Merci de me transmettre les pièces du marché public de la ligne 4", True),
        ("Copie du contrat de délégation, s'il vous plaît", True),
        ("Le rapport est passionnant", False),  # a document, no request
        ("Je demande juste pourquoi le bus est en retard", False),  # a request, no document
        ("Erreur sur le plan du cadastre", False),  # "cada" inside a word
        ("Nous avons communiqué hier sur le marché de Noël", False),
    ],
)
def test_document_request(text: str, flagged: bool) -> None:
    assert ("document_request" in triage(text, InboxKind.MESSAGE, institutional=True).flags) == flagged


@pytest.mark.parametrize("kind", [InboxKind.COMMENT, InboxKind.REPLY, InboxKind.MENTION])
def test_requests_are_looked_for_in_private_messages_only(kind: InboxKind) -> None:
    text = "Où en est mon dossier ? Je demande aussi la copie de la délibération."
    assert triage(text, InboxKind.MESSAGE, institutional=True).flags == ("administrative", "document_request")
    assert triage(text, kind, institutional=True).flags == ()


def test_requests_are_looked_for_on_institutions_only() -> None:
    text = "Où en est mon dossier ? Je demande aussi la copie de la délibération."
    assert triage(text, InboxKind.MESSAGE, institutional=False).flags == ()


# ---------------------------------------------------------------------- hateful or illegal


@pytest.mark.parametrize(
    ("text", "flagged"),
    [
        ("Je vais te tuer", True),
        ("on va vous BRÛLER, vous et votre mairie", True),
        ("on sait où tu habites", True),
        ("Tu vas crever", True),
        ("Mort aux élus !", True),
        ("il faut les pendre tous", True),
        ("sale bougnoule", True),
        ("Brûlez-les tous", True),
        ("Tuez-les", True),
        ("Sales juifs", True),
        ("Je vais tuer le temps en attendant le bus", False),
        ("La mort de mon grand-père m'a bouleversé", False),
        ("Mort aux rats en vente à la droguerie", False),
        ("C'est une honte, démissionnez !", False),  # anger, not a threat
        ("ce bus me tue", False),
        ("les jeunes brûlent d'impatience", False),
        ("on va vous écrire pour vous remercier", False),
        ("Brûlez les étapes, pas les forêts", False),
    ],
)
def test_hateful(text: str, flagged: bool) -> None:
    for kind in (InboxKind.COMMENT, InboxKind.MESSAGE):
        for institutional in (True, False):
            assert ("hateful" in triage(text, kind, institutional=institutional).flags) == flagged


def test_the_hateful_lexicon_is_small_and_folded() -> None:
    patterns = [p for group in HATEFUL_LEXICON.values() for p in group]
    assert 0 < len(patterns) < 40
    assert all(p == p.lower() and p.isascii() for p in patterns)


def test_flags_come_in_a_fixed_order() -> None:
    text = "Je vais te tuer. Mon dossier ? Copie de la délibération. jean@exemple.fr"
    found = triage(text, InboxKind.MESSAGE, institutional=True)
    assert found.flags == ("personal_data", "administrative", "document_request", "hateful")
    assert found.personal_data == ("email",)


def test_typographic_apostrophes_and_accents() -> None:
    assert triage("Demande d’accès aux documents administratifs", InboxKind.MESSAGE, institutional=True).flags == (
        "document_request",
    )
    assert triage("14 ALLÉE des Demoiselles", InboxKind.COMMENT, institutional=False).personal_data == ("address",)
