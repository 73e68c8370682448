"""Small talk: greetings, thanks, goodbyes, acknowledgements, apologies, complaints, a moment's
pause and questions about the bot itself, in many phrasings and learners' spellings. Recognised before anything else, so a
"thanks!" after an answer is never read as a follow-up question.

A message is small talk when every word is either a small-talk word or a filler ("thanks a lot
mate", "ok great", "gud morning") — a lexicon of ordinary English, not of any article.
"""

from __future__ import annotations

import re
import unicodedata

from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

KIND_WORDS = {
    "bye": {"bye", "byee", "byebye", "bbye", "goodbye", "cya", "farewell", "goodnight", "gn", "ciao", "later", "ttyl",
            "gtg", "adios", "tata", "sayonara"},
    "thanks": {"thanks", "thank", "thankyou", "thanx", "thnx", "thnks", "thx", "tnx", "tks", "ty", "tysm", "tq",
               "cheers", "appreciate", "appreciated", "grateful", "thanku", "thnq", "obliged",
               # in the languages learners mix into English
               "gracias", "merci", "danke", "grazie", "obrigado", "obrigada", "salamat", "dhanyavad", "dhanyavaad",
               "shukriya", "asante", "arigato"},
    "sorry": {"sorry", "sry", "soz", "apologies", "apologize", "apologise", "oops", "pardon"},
    "greeting": {"hi", "hii", "hiii", "hello", "helo", "hallo", "hullo", "hey", "heya", "hiya", "howdy", "yo",
                 "greetings", "morning", "afternoon", "evening", "namaste", "sup", "gm", "test", "testing"},
    "ack": {"ok", "okay", "okk", "okey", "oki", "okie", "k", "kk", "cool", "great", "nice", "good", "gud", "understood", "alright",
            "sure", "awesome", "perfect", "fine", "hmm", "hm", "yes", "yeah", "yep", "yup", "no", "nope", "wow",
            "interesting", "noted", "right", "clear", "excellent", "amazing", "brilliant", "lovely", "neat", "fair",
            "gotcha", "got", "it", "makes", "sense", "helpful", "useful", "super", "fantastic", "lol", "haha", "hehe",
            "nvm", "nevermind", "thumbs", "understand", "glad", "rock", "rocks", "helped", "helps", "bet", "aight",
            "ight", "word", "dope", "sweet", "maybe", "idk", "dunno", "true", "sige", "achha", "acha", "accha", "theek"},
}
PRIORITY = ("bye", "thanks", "sorry", "greeting", "ack")
FILLER = {
    "a", "lot", "so", "much", "very", "you", "u", "ya", "again", "mate", "buddy", "bro", "man", "dude", "friend",
    "bot", "rolebot", "there", "all", "everyone", "for", "the", "your", "ur", "help", "info", "answer", "answers",
    "that", "this", "is", "was", "s", "just", "really", "day", "oh", "ah", "and", "well", "then", "see", "i", "we",
    "me", "too", "now", "to", "have", "one", "sir", "madam", "dear", "guys", "folks", "its", "that's", "thats",
    "ok", "good", "my", "bad", "be", "will", "take", "care", "nice", "talk", "soon", "everything", "all",
    "information", "explanation", "reply", "indeed", "totally", "quite", "pretty", "kind", "of", "very", "vry",
    "assistance", "support", "guidance",
    "pls", "please", "plz", "job", "work", "stuff", "know", "mind", "never", "anyway", "up", "are", "now", "get",
    "typo", "typed", "wrong", "mistake", "meant", "it's", "done", "answers", "explaining", "explained",
    # what an apology or a thank-you is for ("sorry i pressed enter by mistake", "thanks for your patience")
    "confusion", "trouble", "bother", "bothering", "disturbing", "delay", "late", "question", "questions", "many",
    "english", "spelling", "grammar", "typos", "button", "enter", "pressed", "hit", "clicked", "accidentally", "by",
    "in", "advance", "time", "patience", "clearly", "quickly", "sent", "message", "but", "seriously", "honestly",
    "ton", "tons", "bunch", "heaps", "million", "window", "tab",
    # forms of address and tags learners add in their English ("salamat po", "thanks yaar", "ok na")
    "po", "na", "yaar", "bhai", "ji", "amigo", "amiga", "maam", "ma'am", "boss", "pal", "fam", "sis", "lah",
    "partner", "beaucoup", "earlier", "today",
}
# Laughter and interjections typed as a reply: "hahaha", "lol", "lmao", "xD".
LAUGH = re.compile(r"^(?:(?:h[aeiou]){2,}h?|(?:lo)+l|lmf?ao+|rofl|xd+)$")
INTERJECTION = {"wow", "oh", "ah", "ahh", "omg", "hmm", "lol", "haha", "well", "aww", "yay", "ugh", "meh", "argh", "hey",
                "whoa", "woah", "damn", "dang", "grabe", "arre", "ayy", "phew", "oof", "huh", "ngl", "yikes", "ooh", "aha"}
_SPELLED = sorted(w for words in KIND_WORDS.values() for w in words if len(w) >= 5)

# Words that end a clause without changing what it asks ("who are you exactly").
TRAILING = {"exactly", "actually", "really", "again", "anyway", "tho", "though", "then", "tbh", "honestly", "lol", "today"}
ABOUT = re.compile(
    r"^(what can (you|u) (do|help( me)? with|answer|tell me)|what do (you|u) (do|know)|who (are|r) (you|u)|"
    r"what (are|r) (you|u)( for)?|(are|r) (you|u) (a |an )?(human|real|person|bot|robot|ai|machine|computer|"
    r"chatbot|real person|real human|human being|live agent)( or (a |an )?\w+( \w+)?)?|"
    r"is this (a )?(bot|human|real person|person|ai)( (typing|replying|answering|talking))?|"
    r"who (made|built|created|programmed|trained|developed|designed|owns|runs) (you|u|this (bot|chat|chatbot|thing|tool))|"
    r"who (made|built|created|programmed|trained) this|"
    r"who (is|are) (your|ur) (developer|developers|creator|creators|maker|makers|owner|owners)|"
    r"(which|what) (company|team|person) (made|built|created|developed|owns|runs|is behind) (you|u|this( bot| chat| chatbot)?)|"
    r"(are|r) (you|u) (made|built|created|developed|trained|powered|run) by \w+( \w+)?|"
    r"am i (talking|chatting|speaking) (to|with) (a |an )?(ai|bot|robot|human|person|real person|machine|computer)|"
    r"(which|what) (model|llm|ai|version) (are|r) (you|u)( \w+){0,2}|(you|u) (a )?(human|bot|robot|ai)( or (a |an )?\w+)?|"
    r"is (someone|somebody|anyone|a human|a person|a real person) (from \w+ )?(typing|replying|answering|reading)( this| these)?|"
    r"how (do|does) (you|u|this|this bot|this chat) work|"
    r"(can|could) (you|u) help( me)?|help( me)?|i need help|what is this( bot| chat| chatbot| thing| tool)?( for)?|"
    r"what can i ask( you| u)?|how (can|do) i use (you|u|this)|how can (you|u) help( me)?|"
    r"what (are|r) (you|u) able to (do|help( me)? with)|"
    r"what('s|s| is) your (name|purpose|job)|"
    # questions about the bot as a person, and requests a FAQ bot is not for
    r"(are|r) (you|u) (chat ?gpt|gpt|an? llm|siri|alexa|gemini|claude|a chat ?gpt)|how old (are|r) (you|u)|"
    r"do (you|u) have (feelings|a name|a life|friends)|what('s| is) your favou?rite \w+|(can|do) (you|u) speak \w+|"
    r"(tell|say) (me )?(a joke|something funny)|do (you|u) (remember|know) (me|who i am)|can (you|u) (hear|see|read) me)$"
)
# Praise is thanks: "you're the best" is answered "you're welcome".
PRAISE = re.compile(r"^((you're|youre|you are|ur|u r) (actually |so |very |really |just |pretty |quite |super )*(smart|clever|funny|cute|the best|awesome|"
                    r"amazing|great|helpful|a lifesaver|a life saver|a legend|a star|patient|kind|nice|fast|quick|cool|good)|(you|u) saved me|(you|u) (are|r) "
                    r"(a )?(lifesaver|life saver|legend|star)|(god )?bless (you|u)( \w+)?|good bot)$")
HELLO = re.compile(r"^(how (are|r) (you|u)( doing)?( today)?|(i'?m|i am|im) (fine|good|ok|okay|great|well)( thanks| thank you| thx)?|how'?s it going|how do you do|what'?s up|wass?up|"
                   r"nice to meet (you|u)|good to see (you|u)|(is )?any ?(one|body) (there|here)|is this (thing )?(on|working)|"
                   r"my name is \w+( \w+)?|(is )?any ?(one|body) home|"
                   r"(are|r) (you|u) (still )?(there|here|awake|alive)|how('s| is) your day( going)?|how (have|ve) (you|u) been|hola|bonjour|salut|"
                   r"hey there|(i'?m|i am|im) (back|new here|new)|i have a (question|doubt|query)|(a |one )?(quick|small|short) (question|q|doubt)|"
                   r"(one more|another) (question|q)|"
                   r"i hope (you|u)('re| are| r)? (doing )?(well|good|fine|great|ok)|hope (you|u)('re| are| r)? (doing )?(well|good|fine|great)|"
                   r"(can|may|could) i ask (you )?(something|a question|a doubt))$")
# Acknowledgements whose words are too common to count alone ("I see", "you too", "sounds good").
ACK = re.compile(r"^(i see|i get it( now)?|i understand( now)?|(that|it) (makes|made) sense( now)?|sounds (good|great|fine|"
                 r"perfect)|you too|same to (you|u)|okie dokie|never ?mind|forget it|fair enough|all good|no (worries|"
                 r"problem|prob|probs)|np|my pleasure|will do|good to know|(good|glad|nice|great) to hear( that)?|wonderful|splendid|well done|(good|great|nice) (job|work)|"
                 r"(nice|good|great|cool) (example|one|answer|explanation)|"
                 r"(that'?s|thats|that is|it'?s|its) (exactly |just )?what i (needed|wanted|was looking for))$")
# The learner is unhappy with the bot ("ur useless", "you didnt understand me at all", "this is not
# working"): said back, with a way on, not "the article doesn't cover that".
COMPLAINT = re.compile(r"^((you|u|ur|youre|you're|this|this bot|this chat|it|that)( are| r|'re|re| is|s|'s)? (so |very |really |kinda |kind of |pretty |"
                       r"a bit |too |totally |completely )*(useless|stupid|dumb|bad|terrible|awful|slow|wrong|broken|confusing|"
                       r"not (helpful|working|good|useful|right|what i asked))|(you|u) (didn'?t|didnt|did not|don'?t|dont|do not) "
                       r"(understand|get|help)( me)?( at all)?|(this|it|that) (doesn'?t|does not|isn'?t|is not) (help|work|working|helping)|"
                       r"not (helpful|useful|what i asked)|useless|(bad|stupid|dumb|useless|terrible|awful|slow|annoying) (bot|answer|answers|reply|replies)|(that'?s|thats|that is) (not )?(wrong|useless|not what i asked)|"
                       # lost rather than unhappy ("huh?", "i am not understand", "that makes no sense"): the
                       # same reply, ask in other words or start from a suggestion
                       r"(this|it|that) (didn'?t|didnt|did not) (help|work)|huh+|what+|wut|eh|come again|"
                       r"(i )?(still )?(don'?t|dont|do not|didn'?t|didnt|did not|am not|not|can'?t|cannot) (understand|understood|"
                       r"get( (it|that|this|you))?|follow( (you|that))?)|"
                       r"((you'?re|youre|you are|ur|u r|this is|that'?s|thats|it'?s|its) (not|no) making (any )?sense|"
                       r"(that|this|it) (makes|made) no sense|makes no sense|no sense))$")
# The learner asks for a moment ("hold on", "brb", "one sec, let me read that again").
WAIT = re.compile(r"^((wait|hold on|hang on|one sec|ok|okay) )?(wait|hold on|hang on|one (sec|second|moment|min|minute)|just a (sec|second|moment|min|minute)|brb|"
                  r"be right back|give me a (sec|second|moment|min|minute)|(let me|lemme) (think|read|check|see|look)"
                  r"( (that|it|this|at (that|it|this)))?( again)?)$")
SORRY = re.compile(r"^(my (bad|mistake|fault|apologies)|wrong (window|tab|chat|person|place|button)|(i'?m|i am|im) sorry|excuse me|pardon( me)?)$")
BYE = re.compile(r"^(see (you|ya|u)( later| soon| around)?|take care|have a (good|nice|great) (day|one|evening|night)|"
                 r"talk (to (you|u) )?(later|soon|tomorrow)|catch (you|ya|u) later|(gotta|got to|have to|need to|i have to|i need to|i must) go( now)?|"
                 r"i'?m done|that'?s (all|it)( for (now|today))?|signing off|(good ?night|gn)( \w+)?|nothing else|"
                 r"no (more|further|other) questions?)$")
_PUNCT = re.compile(r"[^\w\s']")
CLAUSE = re.compile(r"[.!,;?]+\s*")
PHRASES = (("bye", BYE), ("greeting", HELLO), ("thanks", PRAISE), ("ack", ACK), ("sorry", SORRY), ("about", ABOUT),
           ("complaint", COMPLAINT), ("wait", WAIT))
ADDRESS = {"bro", "mate", "buddy", "dude", "man", "sir", "maam", "ma'am", "friend", "dear", "please", "pls", "plz",
           "po", "na", "yaar", "bhai", "ji", "boss", "pal", "fam", "sis", "lah"}


# A smiley typed in ASCII (":)", ":-D", ";)", "<3", "xD"): a reply, like an emoji.
EMOTICON = re.compile(r"^\s*(?:[:;=8x]['\-^o]?[)(\]\[dDpP3/\\|*]+|<3+|\^_?\^|:')\s*$")
_ELONGATED = re.compile(r"(\w)\1{2,}")


def _words(text: str) -> list[str]:
    # "heyyy", "thanksss", "okkkk": a run of three or more of one letter is typed for tone.
    text = _ELONGATED.sub(r"\1", _PUNCT.sub(" ", text.lower()))
    return [w.strip("'") for w in text.split() if w.strip("'")]


def _kind_of(word: str) -> str | None:
    for kind in PRIORITY:
        if word in KIND_WORDS[kind]:
            return kind
    if LAUGH.match(word):
        return "ack"
    if len(word) >= 3 and word[-1] == word[-2]:  # "heyy", "byee": a doubled last letter typed for tone
        return _kind_of(word[:-1])
    if len(word) >= 5:  # "thankss", "thnaks", "helo": one slip of the keys
        match = process.extractOne(word, _SPELLED, scorer=Levenshtein.distance, score_cutoff=1)
        if match:
            return _kind_of(match[0])
    return None


def smalltalk_kind(text: str) -> str | None:
    """Which kind of small talk the whole message is ("about" for questions about the bot), or None.
    A message of several clauses ("gotta go now, bye!", "Good afternoon. I hope you are doing
    well.") is small talk when every clause is."""
    if not any(ch.isalnum() for ch in text) or EMOTICON.match(text):
        return _symbols_kind(text) or ("ack" if EMOTICON.match(text) else None)
    clauses = [c for c in CLAUSE.split(text) if _words(c)]
    if len(clauses) > 1:
        kinds = [_clause_kind(_words(c)) for c in clauses]
        if all(kinds):
            return next(k for k in (*PRIORITY, "about", "complaint", "wait") if k in kinds)
    return _clause_kind(_words(text))


def _clause_kind(words: list[str]) -> str | None:
    if not words or len(words) > 8:
        return None
    # The phrase tests read the clause without interjections before it ("wow you are so smart")
    # or forms of address after it ("who programmed you bro").
    trimmed = list(words)
    while len(trimmed) > 1 and (trimmed[0] in INTERJECTION or LAUGH.match(trimmed[0]) or _kind_of(trimmed[0]) == "greeting"):
        trimmed.pop(0)
    while len(trimmed) > 1 and (trimmed[-1] in ADDRESS or trimmed[-1] in TRAILING):
        trimmed.pop()
    for key in dict.fromkeys((" ".join(words), " ".join(trimmed))):
        for kind, pattern in PHRASES:
            if pattern.match(key):
                return kind
    if ACK.match(" ".join(w for w in trimmed if w not in {"ok", "okay", "ah", "ahh", "oh", "hmm"})):
        return "ack"
    if ABOUT.match(" ".join(w for w in trimmed if w not in {"please", "pls", "plz"} | KIND_WORDS["greeting"])):
        return "about"
    kinds = set()
    for word in words:
        kind = _kind_of(word)
        if kind is None and word not in FILLER:
            return None
        if kind is not None and not (kind == "ack" and word in FILLER):
            kinds.add(kind)
    if not kinds and {"good", "ok", "nice"} & set(words):
        kinds.add("ack")
    return next((k for k in PRIORITY if k in kinds), None)


def _symbols_kind(text: str) -> str | None:
    """A reply of emoji only: a wave is a greeting, folded hands are thanks, the rest ("👍", "😂")
    acknowledge. Punctuation alone ("??") is not small talk."""
    symbols = [ch for ch in text if unicodedata.category(ch) == "So"]
    if not symbols:
        return None
    if "\U0001F44B" in symbols:
        return "greeting"
    return "thanks" if "\U0001F64F" in symbols else "ack"


_LEADING = re.compile(r"^\W*((hi+|hello+|hey+|hiya|heya|ok(ay)?|so(?=\s)|lol|(ha)+h?|thanks|thank you|thx|cool|great|nice|got it|alright|"
                      r"good (morning|afternoon|evening))\b[\W_]*)+(?=\w)", re.I)
_FIRST_CLAUSE = re.compile(r"^\W*([^,.!?;:]+)[,.!?;:]+\s*(?=\w)")


def strip_pleasantries(text: str) -> str:
    """'thanks! and what tools do they use?' asks a question: drop the pleasantry and answer it.
    A leading clause that is small talk on its own goes too ("good morning sir, which role…",
    "lol ok but seriously, what's the difference…")."""
    while (m := _FIRST_CLAUSE.match(text)) and smalltalk_kind(m.group(1)):
        text = text[m.end():]
    return _LEADING.sub("", text).strip() or text


# -- remarks: a statement about the answer or the learner, asking nothing ----------------------
# The learner reacts to what they read ("wow that's a lot to learn haha", "my head is spinning",
# "yeah that tracks", "i'm nervous about switching careers tbh"). The lexicon above cannot list
# every such sentence, but its shape is plain English: no question mark, no word that asks or
# requests, and clauses opened by the speaker, the listener or what was just said. The assistant
# replies to one as small talk when the article has no answer for it, or when it reacts to what was
# just said (`reacts`); a remark the learner makes of themselves that the article has words for
# ("i enjoy building things way more than doing math") is a question in disguise, and answered.
REMARK_OPENER = re.compile(
    r"^(i|i'm|im|i've|ive|i'd|i'll|ill|my|me|we|we're|that|that's|thats|this|it|it's|its|your|you're|youre|you|ur|u|"
    r"sounds?|seems?|looks?|feels?|feeling|kinda|guess|still|love|loved|loving|not|no|never|didnt|didn't|wasnt|wasn't|"
    r"yes|yeah|yea|so|such|well|honestly|tbh)$")
# What a remark opens with when it reacts to what was just said ("oh so they come after the data
# scientist", "sounds intense", "that's wild") rather than saying something of the learner.
REACTS = {"sounds", "sound", "seems", "looks", "feels", "that", "that's", "thats", "this", "so", "such"}
# Words that ask or request anywhere in the message ("i want to know …", "that makes me wonder
# which …", "ok tell me more"): a question, whatever its punctuation.
ASKING = re.compile(
    r"\b(what|whats|what's|wat|how|hows|how's|why|which|who|whom|whose|when|where|whether|tell|explain|describe|"
    r"list|show|give|compare|define|summari[sz]e|elaborate|clarify|recommend|suggest|know\s+(if|about|more)|"
    r"wonder(ing)?|curious|confirm|difference|differences|vs|versus|or|right|correct|please|pls|plz)\b", re.I)
# "what" opening a clause inside a sentence ("not what i expected", "kinda what I thought") asks
# nothing; after a discourse word ("so what they focus instead") it opens the question.
RELATIVE_WHAT = re.compile(r"(?<=\w )(?<!\bso )(?<!\band )(?<!\bbut )(?<!\bok )(?<!\bthen )(?<!\boh )(?<!\bokay )"
                           r"what (i|you|u|we|they|he|she)\b", re.I)
# A clause opened by an auxiliary asks, question mark or not ("i enjoy math, is DS good for me").
ASKS_CLAUSE = re.compile(r"^\W*((but|and|so|ok|okay|lol|then)\s+)*(do|does|did|is|are|was|were|am|can|could|should|"
                         r"would|will|has|have|r)\b")
# "I want to know/learn/understand …", "I need …", "I'd like …": what the learner asks for.
WANTS = re.compile(r"\b(want|wanna|need|needs|like\s+to|love\s+to|looking\s+for|interested\s+in|help|"
                   r"should|could|can|would|will)\b", re.I)
MAX_REMARK_WORDS = 20
# A clause that says how something strikes the learner ("fraud detection sounds cool ngl", "both
# roles seem hard"): a few words, then "sounds", "seems" or "looks".
EVALUATES = re.compile(r"^(\S+\s+){1,4}?(sounds?|seems?|looks?)\s+\S")


# A clause that goes on with the conversation after its interjection ("hmm and ml engineers", "oh
# what about tools"): a follow-up without its question mark, not a reaction.
GOES_ON = re.compile(r"^(and|or|also|but|what|how|same|for|n)$")


def remark_kind(text: str) -> str | None:
    """The small-talk kind of a message that remarks rather than asks ("remark", or the kind of its
    small-talk clause: "gotta go, my class is starting" says goodbye), else None."""
    lowered = RELATIVE_WHAT.sub(" ", text.lower())
    if "?" in text or ASKING.search(lowered) or WANTS.search(lowered) or len(_words(text)) > MAX_REMARK_WORDS:
        return None
    clauses = [c for c in CLAUSE.split(lowered) if _words(c)]
    if not clauses or any(ASKS_CLAUSE.match(c) for c in clauses):
        return None
    kinds = []
    for clause in clauses:
        words = _words(clause)
        kind = _clause_kind(words)
        opened = words[0] in INTERJECTION  # "whoa docker AND kubernetes", "haha nice analogy": a reaction
        while len(words) > 1 and (words[0] in INTERJECTION or _kind_of(words[0])):
            words.pop(0)  # "wow that's …", "ok i feel better now"
        opened = opened and not GOES_ON.match(words[0])  # "hmm and ml engineers" asks on
        if kind is None and not (opened or REMARK_OPENER.match(words[0]) or words[0] in INTERJECTION
                                 or EVALUATES.match(" ".join(words))):
            return None
        kinds.append(kind)
    return next((k for k in (*PRIORITY, "about", "complaint", "wait") if k in kinds), "remark")


def reacts(text: str) -> bool:
    """Whether a message opens as a reaction (an interjection, a laugh, a small-talk word, "sounds",
    "that's", "so") or says how something strikes the learner ("fraud detection sounds cool"): a
    remark that does is small talk even where the article has words for it ("oh so they come after
    the data scientist"); one the learner opens about themselves ("i already use pandas") is
    answered when the article can."""
    words = _words(text)
    return bool(words) and (words[0] in INTERJECTION or words[0] in REACTS or _kind_of(words[0]) is not None
                            or words[-1] in INTERJECTION or bool(EVALUATES.match(" ".join(words))))
