"""What the normaliser reads aloud, one written form per row: the expected text is what a careful
reader of American English says, spelled for espeak.

Conventions of the expected text (see ``tts_ebm/text/normalize.py``): number words without hyphens
or "and" ("one hundred five"); letters read one by one are joined by hyphens ("U-S", "P-M"),
since espeak reads a lone "A" as the article; all-capital acronyms stay as written, because
espeak's dictionary spells "FBI" and says "NASA" as a word (checked below on the phonemes);
letters with diacritics are kept for espeak, which reads them as a reader says the word
("Müller", "crème brûlée"), except in loanwords whose plain spelling is another English word
("résumé" is respelled) and names espeak reads worse with them ("Zürich"); brackets become a
pause; numeric dates with slashes or dashes are read month first (2024-01-03 and 1/3/2024 are
"January third, twenty twenty four"), with dots day first (15.01.2020), unless a number can only
be a day (31/12/2023); an amount after "a"/"an" has a singular unit ("a $20 bill"); a slash
between two numbers that are not a common fraction is silent ("24/7", "9/11"); codes are read
digit by digit with a pause per written group. docs/architecture.md ("Reading text") lists every
convention and the forms left ambiguous on purpose.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

import tts_ebm
from tts_ebm.checkpoint import load_inference_checkpoint
from tts_ebm.text import (
    CHARS_V1,
    CharacterPhonemizer,
    EspeakPhonemizer,
    NotLanguageError,
    TextFrontend,
    normalize_text,
    split_sentences,
)

SHIPPED_VOICE = Path(tts_ebm.__file__).parent / "voices" / "default.safetensors"

CARDINALS = [
    ("42", "forty two"),
    ("7 days", "seven days"),
    ("0", "zero"),
    ("100", "one hundred"),
    ("105", "one hundred five"),
    ("999", "nine hundred ninety nine"),
    ("1,000", "one thousand"),
    ("1,234", "one thousand two hundred thirty four"),
    ("2,500 people", "two thousand five hundred people"),
    ("12,345", "twelve thousand three hundred forty five"),
    ("50,000", "fifty thousand"),
    ("1,000,000", "one million"),
    ("1000000", "one million"),
    ("3,000,000,000", "three billion"),
    ("7,000,000,000,000", "seven trillion"),
    ("1.5 million", "one point five million"),
    ("version 1.2.3", "version one point two point three"),
    (
        "12345678901234567890123456",
        "one two three four five six seven eight nine zero " * 2 + "one two three four five six",
    ),
    ("+5", "plus five"),
    ("1,865", "one thousand eight hundred sixty five"),
    ("2,008", "two thousand eight"),
]
NEGATIVES_AND_DECIMALS = [
    ("-5", "minus five"),
    ("\u221212 degrees", "minus twelve degrees"),
    ("fell to -20", "fell to minus twenty"),
    ("-3.5", "minus three point five"),
    ("3.14", "three point one four"),
    ("0.5", "zero point five"),
    (".75", "point seven five"),
    ("10.25", "ten point two five"),
    ("98.6 degrees", "ninety eight point six degrees"),
    ("-0.5", "minus zero point five"),
    ("1.50", "one point five zero"),
]
ORDINALS = [
    ("1st", "first"),
    ("2nd", "second"),
    ("3rd", "third"),
    ("4th", "fourth"),
    ("11th", "eleventh"),
    ("12th", "twelfth"),
    ("13th", "thirteenth"),
    ("22nd", "twenty second"),
    ("40th", "fortieth"),
    ("103rd", "one hundred third"),
    ("1,000th", "one thousandth"),
    ("the 21st century", "the twenty first century"),
    ("23rd", "twenty third"),
    ("101st", "one hundred first"),
    ("the 1st and 2nd", "the first and second"),
]
YEARS = [
    ("in 1999", "in nineteen ninety nine"),
    ("in 2005", "in two thousand five"),
    ("in 2010", "in twenty ten"),
    ("in 2024", "in twenty twenty four"),
    ("in 1905", "in nineteen oh five"),
    ("in 1800", "in eighteen hundred"),
    ("in 1066", "in ten sixty six"),
    ("the 1900s", "the nineteen hundreds"),
    ("the 1990s", "the nineteen nineties"),
    ("the 2000s", "the two thousands"),
    ("the '90s", "the nineties"),
    ("the 60s", "the sixties"),
    ("in 1865", "in eighteen sixty five"),
    ("1865", "eighteen sixty five"),
    ("in 2008", "in two thousand eight"),
    ("in 1900", "in nineteen hundred"),
    ("in 2000", "in two thousand"),
    ("the 1850s", "the eighteen fifties"),
    ("1990-1995", "nineteen ninety to nineteen ninety five"),
    ("from 1861 to 1865", "from eighteen sixty one to eighteen sixty five"),
    ("2010-2015", "twenty ten to twenty fifteen"),
    ("the 1960s-1970s", "the nineteen sixties to nineteen seventies"),
    ("the 1960s-70s", "the nineteen sixties to seventies"),
    ("the '60s-'70s", "the sixties to seventies"),
    ("in the 1920s\u20131930s", "in the nineteen twenties to nineteen thirties"),
]
CURRENCY = [
    ("$5", "five dollars"),
    ("$1", "one dollar"),
    ("$5.00", "five dollars"),
    ("$5.50", "five dollars and fifty cents"),
    ("$0.99", "ninety nine cents"),
    ("$1.01", "one dollar and one cent"),
    ("$100,000", "one hundred thousand dollars"),
    ("$1.2 million", "one point two million dollars"),
    ("$3 billion", "three billion dollars"),
    ("$2.5bn", "two point five billion dollars"),
    ("-$5", "minus five dollars"),
    ("£5m", "five million pounds"),
    ("£20", "twenty pounds"),
    ("£1.50", "one pound and fifty pence"),
    ("€3", "three euros"),
    ("€2.99", "two euros and ninety nine cents"),
    ("¥500", "five hundred yen"),
    ("50¢", "fifty cents"),
    ("1¢", "one cent"),
    ("$3.50", "three dollars and fifty cents"),
    ("€1,000,000", "one million euros"),
    ("$1,000,000", "one million dollars"),
    ("£1", "one pound"),
    ("$0.50", "fifty cents"),
    ("$12.5 million", "twelve point five million dollars"),
    ("a $20 bill", "a twenty dollar bill"),
    ("a $5 million loan", "a five million dollar loan"),
    ("$250-$300", "two hundred fifty to three hundred dollars"),
    ("$250-300", "two hundred fifty to three hundred dollars"),
    ("$5-10 million", "five to ten million dollars"),
    ("$1.50-$2.00", "one dollar and fifty cents to two dollars"),
    ("\u00a310\u2013\u00a320", "ten to twenty pounds"),
]
DATES = [
    ("Jan. 3rd, 2024", "January third, twenty twenty four"),
    ("Jan. 3, 2024", "January third, twenty twenty four"),
    ("on March 15", "on March fifteenth"),
    ("July 4, 1776", "July fourth, seventeen seventy six"),
    ("Dec. 25", "December twenty fifth"),
    ("Wed., Feb. 14", "Wednesday, February fourteenth"),
    ("Sept. 11th, 2001", "September eleventh, two thousand one"),
    ("in May 2020", "in May twenty twenty"),
    ("the 4th of July", "the fourth of July"),
    ("3 January 2024", "the third of January twenty twenty four"),
    ("on 25 Dec. 2023", "on the twenty fifth of December twenty twenty three"),
    ("2024-01-03", "January third, twenty twenty four"),
    ("1/3/2024", "January third, twenty twenty four"),
    ("12/25/2023", "December twenty fifth, twenty twenty three"),
    ("31/12/2023", "December thirty first, twenty twenty three"),
    ("On May 5, 2021, we met.", "On May fifth, twenty twenty one, we met."),
    ("the 3 January meeting", "the third of January meeting"),
    ("March 2,000 soldiers", "March two thousand soldiers"),
    ("Dec. 25, 2026", "December twenty fifth, twenty twenty six"),
    ("12/25/2026", "December twenty fifth, twenty twenty six"),
    ("2026-12-25", "December twenty fifth, twenty twenty six"),
    ("Nov. 22, 1963", "November twenty second, nineteen sixty three"),
    ("on July 4th", "on July fourth"),
    ("on the 25th", "on the twenty fifth"),
    ("January 1", "January first"),
    ("on January 1, 2020", "on January first, twenty twenty"),
    ("25 July 2012", "the twenty fifth of July twenty twelve"),
    ("on the 25th of July", "on the twenty fifth of July"),
    ("jan. 15", "January fifteenth"),
    ("SEPT. 15", "September fifteenth"),
    ("DEC 31", "December thirty first"),
    ("JULY 4", "July fourth"),
    ("july 4th", "July fourth"),
    ("Aug 9, 1974", "August ninth, nineteen seventy four"),
    ("15 jan", "the fifteenth of January"),
    ("15-Jan-2020", "the fifteenth of January twenty twenty"),
    ("born 15 Jan.", "born the fifteenth of January."),
    ("you may 5 times", "you may five times"),
    ("January 5-7", "January fifth to seventh"),
    ("15.01.2020", "January fifteenth, twenty twenty"),
    ("01.02.2020", "February first, twenty twenty"),
    ("2020/01/15", "January fifteenth, twenty twenty"),
    ("01-15-2020", "January fifteenth, twenty twenty"),
    ("15-01-2020", "January fifteenth, twenty twenty"),
    ("12/25/99", "December twenty fifth, ninety nine"),
    ("expires 12/2025", "expires December twenty twenty five"),
    ("1/5/05", "January fifth, oh five"),
    ("9/11", "nine eleven"),
    ("after 9/11,", "after nine eleven,"),
    ("on Fri, Jan 12", "on Friday, January twelfth"),
    ("Sun, 10 Mar 2024", "Sunday, the tenth of March twenty twenty four"),
    ("The Sun rose", "The Sun rose"),
    ("Mon-Fri 9am-6pm", "Monday to Friday nine A-M to six P-M"),
    ("a holiday-birthday party", "a holiday-birthday party"),
]
TIMES = [
    ("at 3:30 p.m. today", "at three thirty P-M today"),
    ("The train left at 3:30 p.m.", "The train left at three thirty P-M."),
    ("14:05", "fourteen oh five"),
    ("23:59", "twenty three fifty nine"),
    ("at 10:00", "at ten o'clock"),
    ("10:00 a.m. sharp", "ten A-M sharp"),
    ("7:05 am", "seven oh five A-M"),
    ("9am", "nine A-M"),
    ("at 6 PM", "at six P-M"),
    ("at 10 A.M.", "at ten A-M."),
    ("the 9:15 train", "the nine fifteen train"),
    ("at noon", "at noon"),
    ("12 noon", "twelve noon"),
    ("3:45 p.m.", "three forty five P-M."),
    ("10:00", "ten o'clock"),
    ("at 12:30 a.m. on", "at twelve thirty A-M on"),
    ("at 5:00 in the morning", "at five o'clock in the morning"),
    ("at 4 o'clock", "at four o'clock"),
    ("14:10:30", "fourteen ten and thirty seconds"),
    ("at 9:15:01", "at nine fifteen and one second"),
    ("10:00:00", "ten o'clock"),
    ("17:00", "seventeen hundred"),
    ("1:00a.m.", "one A-M."),
    ("1:00 a.m. on", "one A-M on"),
    ("1:00 A.M. on", "one A-M on"),
    ("1:00AM", "one A-M"),
    ("6:45 am", "six forty five A-M"),
    ("1 a. m. on", "one A-M on"),
    ("11 P.M. on", "eleven P-M on"),
    ("7:30p", "seven thirty P-M"),
    ("at 7:30 a meeting", "at seven thirty a meeting"),
    ("at 3 p.m. EST", "at three P-M E-S-T"),
    ("at 3 p.m. ET.", "at three P-M E-T."),
    ("9 AM PT", "nine A-M P-T"),
    ("14:10:30 UTC", "fourteen ten and thirty seconds U-T-C"),
    ("12:00 GMT", "twelve o'clock G-M-T"),
    ("2pm-5pm", "two P-M to five P-M"),
    ("2 pm \u2013 5 pm", "two P-M to five P-M"),
    ("9:30-11:00 a.m.", "nine thirty to eleven A-M."),
    ("10am-2pm", "ten A-M to two P-M"),
    ("10-11:30am", "ten to eleven thirty A-M"),
    ("open 9:00-17:00", "open nine o'clock to seventeen hundred"),
]
PERCENTAGES_RANGES_FRACTIONS = [
    ("50%", "fifty percent"),
    ("3.5%", "three point five percent"),
    ("-2%", "minus two percent"),
    ("100%", "one hundred percent"),
    ("0.1%", "zero point one percent"),
    ("10-20%", "ten to twenty percent"),
    ("10\u201320", "ten to twenty"),
    ("pages 5-10", "pages five to ten"),
    ("ages 18\u201325", "ages eighteen to twenty five"),
    ("1914\u20131918", "nineteen fourteen to nineteen eighteen"),
    ("1939-45", "nineteen thirty nine to forty five"),
    ("1/2", "one half"),
    ("3/4", "three quarters"),
    ("2/3", "two thirds"),
    ("5/8", "five eighths"),
    ("3/10", "three tenths"),
    ("1 1/2", "one and a half"),
    ("2 3/4", "two and three quarters"),
    ("1 1/8", "one and an eighth"),
    ("3½", "three and a half"),
    ("2½ hours", "two and a half hours"),
    ("⅜ inch", "three eighths inch"),
    ("½", "one half"),
    ("¾", "three quarters"),
    ("a 10% rise", "a ten percent rise"),
    ("25 per cent", "twenty five per cent"),
    ("1/4", "one quarter"),
    ("7/8", "seven eighths"),
    ("1/3 of it", "one third of it"),
    ("open 24/7", "open twenty four seven"),
    ("a 50/50 chance", "a fifty fifty chance"),
    ("5/16", "five sixteenths"),
    ("a 7/16 wrench", "a seven sixteenths wrench"),
    ("1/100 of a second", "one one hundredth of a second"),
]
PHONE_NUMBERS = [
    ("555-123-4567", "five five five, one two three, four five six seven"),
    ("(555) 123-4567", "five five five, one two three, four five six seven"),
    ("call 555-0199", "call five five five, zero one nine nine"),
    ("1-800-555-0199", "one, eight hundred, five five five, zero one nine nine"),
    ("(202) 456-1111", "two zero two, four five six, one one one one"),
    ("P.O. Box 2915", "P-O Box two nine one five"),
    ("(212) 555-0147", "two one two, five five five, zero one four seven"),
    ("Call (212) 555-0147 today.", "Call two one two, five five five, zero one four seven today."),
    ("212-555-0147", "two one two, five five five, zero one four seven"),
    ("212.555.0147", "two one two, five five five, zero one four seven"),
    ("212 555 0147", "two one two, five five five, zero one four seven"),
    ("+1 212 555 0147", "plus one, two one two, five five five, zero one four seven"),
    ("+1 (212) 555-0147", "plus one, two one two, five five five, zero one four seven"),
    ("+1-212-555-0147", "plus one, two one two, five five five, zero one four seven"),
    ("1 (800) 555-0199", "one, eight hundred, five five five, zero one nine nine"),
    ("1-888-555-0100", "one, eight eight eight, five five five, zero one zero zero"),
    (
        "555-0147 ext. 12",
        "five five five, zero one four seven, extension one two",
    ),
    (
        "(212) 555-0147 x204",
        "two one two, five five five, zero one four seven, extension two zero four",
    ),
    (
        "+44 20 7946 0958",
        "plus four four, two zero, seven nine four six, zero nine five eight",
    ),
    ("dial 911", "dial nine one one"),
]
DIGIT_STRINGS = [
    ("123-45-6789", "one two three, four five, six seven eight nine"),
    ("SSN 078-05-1120", "SSN zero seven eight, zero five, one one two zero"),
    (
        "4111 1111 1111 1111",
        "four one one one, one one one one, one one one one, one one one one",
    ),
    ("192.168.0.12", "one nine two dot one six eight dot zero dot one two"),
    ("ping 10.0.0.1 now", "ping one zero dot zero dot zero dot one now"),
    ("account 12345678", "account one two three four five six seven eight"),
    ("Account No. 12345678", "Account number one two three four five six seven eight"),
    ("PIN: 4321", "PIN: four three two one"),
    ("the card ending in 0042", "the card ending in zero zero four two"),
    ("Order #12345", "Order number one two three four five"),
    ("order 5000 copies", "order five thousand copies"),
    ("ZIP code 02139", "ZIP code zero two one three nine"),
    ("tracking number 9400 1000", "tracking number nine four zero zero, one zero zero zero"),
    ("serial 7731", "serial seven seven three one"),
    ("pages 100-1000", "pages one hundred to one thousand"),
]
ABBREVIATIONS = [
    ("Dr. Smith", "Doctor Smith"),
    ("Mr. Jones", "Mister Jones"),
    ("Mrs. Jones", "Missus Jones"),
    ("Ms. Lee", "Miz Lee"),
    ("Prof. Xavier", "Professor Xavier"),
    ("Gen. Grant", "General Grant"),
    ("Sen. Warren", "Senator Warren"),
    ("Gov. Newsom", "Governor Newsom"),
    ("Mt. Everest", "Mount Everest"),
    ("St. Louis", "Saint Louis"),
    ("St. Patrick's Day", "Saint Patrick's Day"),
    ("on Main St. now", "on Main Street now"),
    ("on Elm Dr.", "on Elm Drive."),
    ("Martin Luther King Jr.", "Martin Luther King Junior."),
    ("Acme Inc.", "Acme Incorporated."),
    ("the Dept. of Energy", "the Department of Energy"),
    ("apples vs. oranges", "apples versus oranges"),
    ("fruit, e.g. apples", "fruit, for example apples"),
    ("fruit, i.e. apples", "fruit, that is apples"),
    ("apples, pears, etc.", "apples, pears, et cetera."),
    ("No. 5", "Number five"),
    ("room no. 12", "room number twelve"),
    ("#1 fan", "number one fan"),
    ("see Fig. 3", "see Figure three"),
    ("approx. 20", "approximately twenty"),
    ("Smith Dr.", "Smith Drive."),
    ("Dr. Smith lives on Smith Dr. now", "Doctor Smith lives on Smith Drive now"),
    ("Mr. and Mrs. Smith", "Mister and Missus Smith"),
    ("Capt. Lawrence", "Captain Lawrence"),
    ("Lt. Day", "Lieutenant Day"),
    ("Col. Sanders", "Colonel Sanders"),
    ("Maj. Gen. Walker", "Major General Walker"),
    ("Smith & Co. sold", "Smith and Company sold"),
    ("John Smith, Esq., the sheriff", "John Smith, Esquire, the sheriff"),
    ("Dallas-Ft. Worth", "Dallas-Fort Worth"),
    ("and/or", "and or"),
]
ACRONYMS = [
    ("NASA", "NASA"),
    ("the FBI", "the FBI"),
    ("the U.S. Army", "the U-S Army"),
    ("the U.K. and the U.S.", "the U-K and the U-S."),
    ("Washington, D.C., is", "Washington, D-C, is"),
    ("a Ph.D. student", "a P-H-D student"),
    ("R&D", "R and D"),
    ("AT&T", "A-T and T"),
    ("the U.S.A.", "the U-S-A."),
    ("the F.B.I. agent", "the F-B-I agent"),
    ("the CIA", "the CIA"),
    ("NATO", "NATO"),
    ("the U.S.S.R. and", "the U-S-S-R and"),
    ("in 500 B.C.", "in five hundred B-C."),
    ("A.D. 1066", "A-D ten sixty six"),
]
UNITS = [
    ("5 km", "five kilometers"),
    ("1 km", "one kilometer"),
    ("5km", "five kilometers"),
    ("2.5 cm", "two point five centimeters"),
    ("3 kg", "three kilograms"),
    ("500 mg", "five hundred milligrams"),
    ("1 lb", "one pound"),
    ("3 lbs", "three pounds"),
    ("12 oz", "twelve ounces"),
    ("6 ft", "six feet"),
    ("1 ft", "one foot"),
    ("10 mph", "ten miles per hour"),
    ("100 km/h", "one hundred kilometers per hour"),
    ("16 GB", "sixteen gigabytes"),
    ("2.4 GHz", "two point four gigahertz"),
    ("30 min", "thirty minutes"),
    ("20 °C", "twenty degrees Celsius"),
    ("1°", "one degree"),
    ("-5°C", "minus five degrees Celsius"),
    ("10-15 km", "ten to fifteen kilometers"),
    ("10 kg", "ten kilograms"),
    ("a 5 km run", "a five kilometer run"),
    ("a 6.5 mm rifle", "a six point five millimeter rifle"),
    ("3 mi", "three miles"),
    ("100 yds", "one hundred yards"),
    ("12KG", "twelve kilograms"),
    ("12 Kg", "twelve kilograms"),
    ("5 KM", "five kilometers"),
    ("100 MPH", "one hundred miles per hour"),
    ("250 MG", "two hundred fifty milligrams"),
    ("3 mbps", "three megabits per second"),
    ("100 Mbps", "one hundred megabits per second"),
    ("1 Gbps", "one gigabit per second"),
    ("1.5 MB/s", "one point five megabytes per second"),
    ("10 Mb/s", "ten megabits per second"),
    ("500 GB", "five hundred gigabytes"),
    ("512mb of memory", "five hundred twelve megabytes of memory"),
    ("a 4 GiB file", "a four gibibyte file"),
    ("km\u00b3", "cubic kilometers"),
    ("5 km\u00b2", "five square kilometers"),
    ("50 m2", "fifty square meters"),
    ("9.8 m/s\u00b2", "nine point eight meters per second squared"),
    ("9.8 m/s^2", "nine point eight meters per second squared"),
    ("1,000 kg/m\u00b3", "one thousand kilograms per cubic meter"),
    ("2,000 sq ft", "two thousand square feet"),
    ("a 60W bulb", "a sixty watt bulb"),
    ("5V", "five volts"),
    ("3000 rpm", "three thousand R-P-M"),
    ("60 fps", "sixty frames per second"),
    ("2 L", "two liters"),
    ("2 tbsp", "two tablespoons"),
    ("$3/lb", "three dollars per pound"),
    ("$2.99/gal", "two dollars and ninety nine cents per gallon"),
    ("$15/hr", "fifteen dollars per hour"),
    ("$1,200/month", "one thousand two hundred dollars per month"),
    ("40\u00b0N 74\u00b0W", "forty degrees north seventy four degrees west"),
    ("a 45\u00b0 angle", "a forty five degree angle"),
    ("72\u00b0F", "seventy two degrees Fahrenheit"),
    ("5'10\"", "five feet ten inches"),
    ("x\u00b2", "x squared"),
    ("5g of sugar", "five grams of sugar"),
    ("a 5 in. screen", "a five inch screen"),
    ("He is 6 ft 2 in.", "He is six feet two inches."),
    ("6 ft 2 in. tall", "six feet two inches tall"),
    ("3 sq. ft.", "three square feet."),
    ("5 in a row", "five in a row"),
    ("5 cm x 10 cm", "five centimeters by ten centimeters"),
]
URLS_AND_EMAIL = [
    ("visit www.example.com", "visit w w w dot example dot com"),
    ("see example.com.", "see example dot com."),
    ("https://example.com/about", "example dot com slash about"),
    ("http://www.example.org/", "w w w dot example dot org"),
    ("www.stanford.edu", "w w w dot stanford dot E-D-U"),
    ("jane.doe@example.org", "jane dot doe at example dot org"),
    ("bob_smith@mail.example.net", "bob underscore smith at mail dot example dot net"),
    ("info@my-site.com", "info at my dash site dot com"),
    ("jane.doe@example.co.uk", "jane dot doe at example dot co dot U-K"),
    ("Mail <info@example.com> now", "Mail info at example dot com now"),
    ("Google.com is big", "Google dot com is big"),
    (
        "Go to https://www.example.com/path?q=1&x=2.",
        "Go to w w w dot example dot com slash path question mark q equals one and x equals two.",
    ),
    ("https://example.com/a-b", "example dot com slash a dash b"),
    ("user@example.org", "user at example dot org"),
]
ACCENTS = [
    ("café", "café"),
    ("naïve", "naïve"),
    ("façade", "façade"),
    ("jalapeño", "jalapeño"),
    ("Zürich", "Zurich"),
    ("São Paulo", "São Paulo"),
    ("crème brûlée", "crème brûlée"),
    ("my résumé", "my rezzumay"),
    ("Résumés", "Rezzumays"),
    ("an exposé", "an expohzay"),
    ("a glass of rosé", "a glass of rohzay"),
    ("Müller", "Müller"),
    ("bric-à-brac", "bric-a-brac"),
    ("a cause célèbre", "a cause celebre"),
    ("raison d'être", "raison d'être"),
    ("fiancée", "fiancée"),
    ("El Niño", "El Niño"),
    ("Ångström", "Ångström"),
    ("Straße", "Strasse"),
    ("Curaçao", "Curaçao"),
    ("Mu\u0308ller", "Müller"),
    ("Chloë", "Chloe"),
    ("Pelé scored", "Pelé scored"),
    ("señor", "señor"),
    ("Dvořák", "Dvořák"),
    ("Nguyễn", "Nguyễn"),
    ("déjà vu", "déjà vu"),
]
PUNCTUATION_AND_SYMBOLS = [
    ("He said \u201chello.\u201d", 'He said "hello."'),
    ("\u2018single\u2019 quotes", "'single' quotes"),
    ("It's Jane's", "It's Jane's"),
    ("rock 'n' roll", "rock 'n' roll"),
    ("the result (see below) is", "the result, see below, is"),
    ("Hello (world)!", "Hello, world!"),
    ("well-known", "well-known"),
    ("state-of-the-art", "state-of-the-art"),
    ("wait \u2014 what?", "wait - what?"),
    ("yes--no", "yes - no"),
    ("Tom & Jerry", "Tom and Jerry"),
    ("2 + 2 = 4", "two plus two equals four"),
    ("C++", "C plus plus"),
    ("#MeToo", "hashtag MeToo"),
    ("C# and F#", "C sharp and F sharp"),
    ("she said: \u201cNo.\u201d", 'she said: "No."'),
    ("he [Oswald] had", "he, Oswald, had"),
    ("one -- two", "one - two"),
    ("Well... maybe", "Well... maybe"),
    ("\u00abBonjour\u00bb", '"Bonjour"'),
]
ROMAN_NUMERALS = [
    ("King George III", "King George the Third"),
    ("Henry VIII", "Henry the Eighth"),
    ("Henry V", "Henry the Fifth"),
    ("Louis XIV's reign", "Louis the Fourteenth's reign"),
    ("Pope John XXIII", "Pope John the Twenty Third"),
    ("Louis XIV", "Louis the Fourteenth"),
    ("Pope John Paul II", "Pope John Paul the Second"),
    ("Queen Elizabeth II", "Queen Elizabeth the Second"),
    ("World War II", "World War two"),
    ("World War I", "World War one"),
    ("Chapter IV", "Chapter four"),
    ("Act I, Scene V", "Act one, Scene five"),
    ("Type II diabetes", "Type two diabetes"),
    ("Appendix C", "Appendix C"),
    ("Francis X. Kane", "Francis X Kane"),
    ("Part I", "Part one"),
    ("Super Bowl LVII", "Super Bowl fifty seven"),
    ("Malcolm X", "Malcolm X"),
    ("I think", "I think"),
    ("Edward VI", "Edward the Sixth"),
    ("Napoleon III", "Napoleon the Third"),
    ("Richard III", "Richard the Third"),
    ("Vol. II", "Volume two"),
]
# Forms found in the LJSpeech transcripts (already spelled out by its transcribers, but with
# times written "twelve:thirty" and the abbreviations of Victorian and 1960s prose).
LJSPEECH = [
    ("at twelve:thirty p.m., the", "at twelve thirty P-M, the"),
    ("or one:forty-five a.m. to", "or one forty-five A-M to"),
    ("to four:fifty p.m. on", "to four fifty P-M on"),
    ("assisted by Drs. Robert McClelland", "assisted by Doctors Robert McClelland"),
    ("the Right Hon. Stephen Lushington", "the Right Honorable Stephen Lushington"),
    ("a clerk to Messrs. Wagner and Bateman.", "a clerk to Messers Wagner and Bateman."),
    ("the Hon. Mr. Neville, M.P., who", "the Honorable Mister Neville, M-P, who"),
    ("to the Rev. Dr. Griffiths", "to the Reverend Doctor Griffiths"),
    ("two kinds, viz.: (a) some", "two kinds, namely: a, some"),
    ("shot at Maj. Gen. Edwin A. Walker", "shot at Major General Edwin A. Walker"),
    ("in the U.S. Marine Corps", "in the U-S Marine Corps"),
    ("of the U.S.S. Wasp,", "of the U-S-S Wasp,"),
    ("eight hundred B.C., when", "eight hundred B-C, when"),
    ("scored an I.Q. of", "scored an I-Q of"),
    ("the two M.P.'s, was", "the two M-P's, was"),
    ("Protective Research Section (PRS)", "Protective Research Section, PRS"),
    ("salts, water, etc.) to", "salts, water, et cetera, to"),
    ("FBI Director J. Edgar Hoover", "FBI Director J Edgar Hoover"),
    ("to arrest M\u00fcller,", "to arrest M\u00fcller,"),
    ("from Seaport-Traders, Inc., a", "from Seaport-Traders, Incorporated, a"),
    ("P.O. Box two nine one five", "P-O Box two nine one five"),
]
ADDRESSES = [
    ("123 Main St", "one twenty three Main Street"),
    ("123 Main St.", "one twenty three Main Street."),
    ("1600 Pennsylvania Ave. NW", "sixteen hundred Pennsylvania Avenue Northwest"),
    ("221B Baker Street", "two twenty one B Baker Street"),
    ("350 W 42nd St", "three fifty West forty second Street"),
    ("10 Downing Street", "ten Downing Street"),
    ("305 Elm Dr", "three oh five Elm Drive"),
    ("he lives at 42 Elm Ct.", "he lives at forty two Elm Court."),
    ("2005 Oak Ln", "twenty oh five Oak Lane"),
    ("Apt. 4B", "Apartment four B"),
    ("Apt 12", "Apartment twelve"),
    ("Ste. 200", "Suite two hundred"),
    ("Apt. #5", "Apartment number five"),
    ("P.O. Box 123", "P-O Box one two three"),
    ("PO Box 2915", "P-O Box two nine one five"),
    ("Springfield, IL 62704", "Springfield, Illinois six two seven zero four"),
    (
        "Beverly Hills, CA 90210-1234",
        "Beverly Hills, California nine zero two one zero, one two three four",
    ),
    ("Washington, DC 20500", "Washington, D-C two zero five zero zero"),
    ("Portland, OR 97201", "Portland, Oregon nine seven two zero one"),
    ("Highway 101", "Highway one oh one"),
    ("Hwy 101", "Highway one oh one"),
    ("Route 66", "Route sixty six"),
    ("Room 101", "Room one oh one"),
    ("Room 215", "Room two fifteen"),
    ("Flight 1549", "Flight fifteen forty nine"),
    ("Suite 2000", "Suite two thousand"),
]
DIMENSIONS_AND_NAMES = [
    ("2x4", "two by four"),
    ("a 2x4", "a two by four"),
    ("10 x 12 ft", "ten by twelve feet"),
    ("3\u00d75 card", "three by five card"),
    ("1920x1080", "nineteen twenty by ten eighty"),
    ("2 x 3 = 6", "two times three equals six"),
    ("2x faster", "two times faster"),
    ("B-52", "B-fifty two"),
    ("F-16", "F-sixteen"),
    ("AK-47", "AK-forty seven"),
    ("F-150", "F-one fifty"),
    ("Airbus A380", "Airbus A-three eighty"),
    ("I-405", "I-four oh five"),
    ("4K", "four K"),
    ("a 4k TV", "a four K TV"),
    ("5G network", "five G network"),
    ("1080p", "ten eighty P"),
    ("3D", "three D"),
    ("401(k)", "four oh one K"),
    ("Y2K", "Y two K"),
    ("A1 sauce", "A-one sauce"),
    ("Vitamin B12", "Vitamin B-twelve"),
    ("R2-D2", "R-two-D-two"),
]
CASES = [
    *CARDINALS,
    *NEGATIVES_AND_DECIMALS,
    *ORDINALS,
    *YEARS,
    *CURRENCY,
    *DATES,
    *TIMES,
    *PERCENTAGES_RANGES_FRACTIONS,
    *PHONE_NUMBERS,
    *DIGIT_STRINGS,
    *ABBREVIATIONS,
    *ACRONYMS,
    *UNITS,
    *ADDRESSES,
    *DIMENSIONS_AND_NAMES,
    *URLS_AND_EMAIL,
    *ACCENTS,
    *PUNCTUATION_AND_SYMBOLS,
    *ROMAN_NUMERALS,
    *LJSPEECH,
]


def test_the_table_is_large_and_has_no_repeats() -> None:
    written = [text for text, _ in CASES]
    assert len(written) >= 500
    assert len(set(written)) == len(written)


@pytest.mark.parametrize(("text", "expected"), CASES, ids=[text for text, _ in CASES])
def test_normalize_reads_like_a_person(text: str, expected: str) -> None:
    assert normalize_text(text) == expected


# Text that is not speech, beside the forms the hostile-input tests refuse already.
REFUSED = [
    ("The end.\x7f", "the control character U+007F"),
    ("tab\x0bbed", "the control character U+000B"),
    ("Hello \x00 world, a nul inside a sentence.", "the control character U+0000"),
    (b"\x1f\x8b\x08\x00gzip".decode("utf-8", "surrogateescape"), "the control character U+001F"),
    (b"caf\xe9 in Latin-1".decode("utf-8", "surrogateescape"), "the byte 0xE9, which is not UTF-8"),
    ("a" * 5000, "a word of 5000 letters and digits without a space"),
    ("Read this: " + "xq7" * 100 + ".", "a word of 300 letters and digits without a space"),
]


@pytest.mark.parametrize(("text", "reason"), REFUSED, ids=[reason for _, reason in REFUSED])
def test_text_that_is_not_speech_is_refused_in_one_line(text: str, reason: str) -> None:
    with pytest.raises(NotLanguageError) as refused:
        normalize_text(text)
    assert reason in str(refused.value) and "\n" not in str(refused.value)


def test_the_phonemiser_hears_the_normalised_words() -> None:
    """The front end hands espeak the normaliser's words, sentence by sentence."""
    frontend = TextFrontend()
    heard: list[str] = []
    speak = frontend.phonemizer

    def spy(texts: list[str]) -> list[str]:
        heard.extend(texts)
        return speak(texts)

    frontend.phonemizer = spy
    frontend.process("Dr. Smith paid $3.50 at 3:45 p.m. on Dec. 25, 2026. It was 50% off!")
    assert heard == [
        "Doctor Smith paid three dollars and fifty cents at three forty five P-M on December "
        "twenty fifth, twenty twenty six.",
        "It was fifty percent off!",
    ]


def test_the_shipped_voice_has_a_symbol_for_everything_the_readings_emit() -> None:
    """No reading may emit a character the character table lacks, nor make espeak answer with a
    phone the shipped voice has no embedding for (it would be dropped at synthesis)."""
    frontend = TextFrontend.from_config(load_inference_checkpoint(SHIPPED_VOICE).frontend)
    outputs = frontend.process_many([text for text, _ in CASES])
    assert [out.normalized for out in outputs] == [expected for _, expected in CASES]
    letters = CharacterPhonemizer()([out.normalized for out in outputs])
    assert set("".join(letters)) <= set(CHARS_V1.symbols)
    assert set("".join(out.phonemes for out in outputs)) <= set(frontend.symbols.symbols)


SENTENCES = [
    ("Dr. Smith arrived. He sat down.", ["Dr. Smith arrived.", "He sat down."]),
    ("Mr. and Mrs. Smith left. They waved.", ["Mr. and Mrs. Smith left.", "They waved."]),
    ("I like fruit, e.g. apples. Do you?", ["I like fruit, e.g. apples.", "Do you?"]),
    ("It was No. 5 on the list. Then it fell.", ["It was No. 5 on the list.", "Then it fell."]),
    ("He was born on Jan. 5. It snowed.", ["He was born on Jan. 5.", "It snowed."]),
    ("Sen. Warren spoke at 3 p.m. on Tuesday.", ["Sen. Warren spoke at 3 p.m. on Tuesday."]),
    ("Apples vs. oranges is old. Move on.", ["Apples vs. oranges is old.", "Move on."]),
    ("Gov. Newsom met Prof. Xavier. He smiled.", ["Gov. Newsom met Prof. Xavier.", "He smiled."]),
    ("Visit www.example.com. It is free.", ["Visit www.example.com.", "It is free."]),
    ("The cost is $3.50. That is cheap.", ["The cost is $3.50.", "That is cheap."]),
    ("She has a Ph.D. in math. He does not.", ["She has a Ph.D. in math.", "He does not."]),
    ("See Fig. 3 for details. It helps.", ["See Fig. 3 for details.", "It helps."]),
]


@pytest.mark.parametrize(("text", "expected"), SENTENCES, ids=[text for text, _ in SENTENCES])
def test_abbreviations_do_not_end_sentences(text: str, expected: list[str]) -> None:
    assert split_sentences(text) == expected


def test_numbers_too_long_to_convert_are_read_digit_by_digit() -> None:
    assert normalize_text("7" * 5000) == " ".join(["seven"] * 5000)


def test_dotted_runs_take_linear_time() -> None:
    """Address patterns retried from every word of "a.a.a..." must not be quadratic (an
    unbounded "(label.)+" took two minutes on this text)."""
    start = time.perf_counter()
    normalize_text("a." * 20_000 + " ab@" * 5_000)
    assert time.perf_counter() - start < 5


def test_espeak_hears_the_diacritics_a_reader_hears() -> None:
    """Kept diacritics reach espeak, which reads "Müller" with the vowel of "moo" (stripped,
    "Muller" is "mull-er") and "jalapeño" with the "ny" of "canyon"."""
    muller, jalapeno = EspeakPhonemizer()([normalize_text("Müller"), normalize_text("jalapeño")])
    assert muller == "mˈuːlɚ"
    assert "nj" in jalapeno


def test_a_long_number_is_not_a_long_word() -> None:
    """Digits alone are a number however long (read digit by digit); a word of as many letters
    is refused."""
    assert normalize_text("1" * 400).split() == ["one"] * 400
    assert normalize_text("x" * 160) == "x" * 160


def test_espeak_spells_or_says_the_acronyms_left_to_it() -> None:
    """Acronyms stay as written because espeak's dictionary reads them right: letters for
    "FBI", a word for "NASA"."""
    fbi, nasa = EspeakPhonemizer()([normalize_text("the FBI"), normalize_text("NASA")])
    assert fbi.split()[1] == "ˌɛfbˌiːˈaɪ"
    assert nasa == "nˈæsɐ"
