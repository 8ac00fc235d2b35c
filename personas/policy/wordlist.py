"""A small French vocabulary to cut lower-case hashtags into words (rule A4, hashtag_case).

Not a dictionary: the function words that glue French hashtags together, plus the vocabulary of
a collectivity's posts (territory, transport, education, culture, sport, events). Words are
written without accents because hashtags usually are; matching folds accents first. A persona
adds its own words with ``[rules.hashtag_case] params = { extra_words = [...] }``.
"""

from __future__ import annotations

_FUNCTION = """
a au aux d de des du en et l la le les ou par pour sur sous un une avec sans chez vers dans entre
ce cet cette ces nos notre votre vos leur leurs son sa ses on nous vous ils elles il elle tous
tout toute toutes plus moins tres bien bon bonne bons bonnes grand grande grands grandes petit
petite nouveau nouvelle nouveaux
"""

_VOCABULARY = """
region regions regional regionale regionaux departement departements commune communes ville
villes village villages territoire territoires metropole pays terre terres mer montagne montagnes
occitanie toulouse montpellier nimes perpignan beziers narbonne carcassonne albi tarbes rodez
cahors auch foix mende pyrenees mediterranee garonne canal midi sud france europe monde
ariege aude gard gers herault lot lozere tarn montauban ales sete millau castres lourdes
fete fetes musique musiques patrimoine journee journees semaine mois annee jour jours nuit
festival culture culturel sport sports sportif jeux olympiques paralympiques course velo tour
emploi emplois economie entreprise entreprises innovation industrie agriculture agricole
agriculteurs vin vins vigne vignes terroir gastronomie tourisme vacances ete hiver printemps
automne noel ecole ecoles college colleges lycee lycees lyceen lyceens etudiant etudiants
jeunesse jeune jeunes apprentissage formation formations metier metiers education universite
transport transports train trains gare gares ligne lignes bus car route routes mobilite
climat environnement eau energie solaire foret forets biodiversite nature developpement durable
transition ecologique ecologie recyclage dechets sante hopital solidarite handicap egalite
femme femmes homme hommes enfant enfants famille familles citoyen citoyens habitant habitants
conseil vote budget service services public publics aide aides projet projets plan
numerique internet video photo photos art arts livre livres lecture cinema theatre danse
musee musees concert concerts expo exposition salon marche marches foire
rugby football foot basket handball natation randonnee plage plages ski neige soleil
paix memoire histoire armistice liberation nationale national internationale international
droits droit semaine femmes lutte contre violences harcelement securite routiere
vive bienvenue merci bravo felicitations rendez vous ensemble demain aujourdhui
"""

#: the glue words: a hashtag cut into these alone (« aude » = au + de, « ales » = a + les) is a
#: word the list does not know, not a phrase
FUNCTION_WORDS: frozenset[str] = frozenset(_FUNCTION.split())
WORDS: frozenset[str] = frozenset((_FUNCTION + _VOCABULARY).split())
