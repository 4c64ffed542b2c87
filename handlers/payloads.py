"""Every button payload of the features, one small class each (see ``bot.core.payloads``).

They live together, by feature, because features offer each other's buttons (the menu offers
the lessons, an answer offers its lesson, the team tools offer broadcasts) and a payload must
be importable without the handlers behind it. The packed strings keep the shapes offered
buttons already stored in the database have.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from bot.core.payloads import Payload

# --- welcome and consent (handlers/start.py) -------------------------------------------------


@dataclass(frozen=True)
class ConsentYes(Payload, prefix="consent:yes"):
    """ "Đồng ý" to the privacy notice."""


@dataclass(frozen=True)
class ConsentNo(Payload, prefix="consent:no"):
    """ "Không đồng ý": forget the user."""


@dataclass(frozen=True)
class ConsentDetails(Payload, prefix="consent:details"):
    """The full privacy notice."""


@dataclass(frozen=True)
class NameSkip(Payload, prefix="consent:noname"):
    """No display name, after consent (the web chat asks for one)."""


CONSENT = (ConsentYes, ConsentNo, ConsentDetails)

# --- menu (handlers/menu.py) -----------------------------------------------------------------


@dataclass(frozen=True)
class MenuShow(Payload, prefix="menu:show"):
    """The main menu."""


@dataclass(frozen=True)
class MenuAsk(Payload, prefix="menu:ask"):
    """ "Hỏi đáp": how to ask a question."""


@dataclass(frozen=True)
class AskTopics(Payload, prefix="ask:topics"):
    """The topics of one knowledge group, to browse (``group`` empty: the list of groups)."""

    group: str = ""


@dataclass(frozen=True)
class MenuContact(Payload, prefix="menu:contact"):
    """ "Liên hệ tổ" (handlers/teams.py)."""


# --- progress and personal data (handlers/progress.py, handlers/privacy.py) ------------------


@dataclass(frozen=True)
class ProgressShow(Payload, prefix="progress:show"):
    """The citizen's progress."""


@dataclass(frozen=True)
class PrivacyShow(Payload, prefix="privacy:show"):
    """What the bot keeps about the user."""


@dataclass(frozen=True)
class PrivacyDelete(Payload, prefix="privacy:delete"):
    """Asks to confirm deleting the user's data."""


@dataclass(frozen=True)
class PrivacyErase(Payload, prefix="privacy:erase"):
    """Deletes the user's data (confirmed)."""


@dataclass(frozen=True)
class PrivacyKeep(Payload, prefix="privacy:keep"):
    """Keeps the data after all."""


# --- lessons (handlers/lessons.py) -----------------------------------------------------------


@dataclass(frozen=True)
class LessonList(Payload, prefix="lesson:list"):
    """The list of lessons."""


@dataclass(frozen=True)
class LessonStart(Payload, prefix="lesson:start"):
    """Start (or resume) a skill."""

    skill: str


@dataclass(frozen=True)
class LessonNext(Payload, prefix="lesson:next"):
    """ "Tiếp" on a step of an attempt."""

    attempt: int
    step: str


@dataclass(frozen=True)
class LessonAnswer(Payload, prefix="lesson:ans"):
    """An answer choice (1-based) of a quiz question."""

    attempt: int
    question: str
    choice: int


@dataclass(frozen=True)
class LessonRetry(Payload, prefix="lesson:retry"):
    """Take a finished attempt's quiz again."""

    attempt: int


@dataclass(frozen=True)
class LessonReview(Payload, prefix="lesson:review"):
    """Read a finished attempt's lesson again."""

    attempt: int


@dataclass(frozen=True)
class LessonResume(Payload, prefix="lesson:resume"):
    """ "Học tiếp" after a free question in the middle of a lesson."""

    attempt: int


@dataclass(frozen=True)
class LessonStop(Payload, prefix="lesson:stop"):
    """Leave a lesson (it stays open)."""

    attempt: int


# --- answers (handlers/answers.py) -----------------------------------------------------------


@dataclass(frozen=True)
class AnswerShow(Payload, prefix="answers:show"):
    """A related entry; feedback still goes to the first question's log row."""

    entry: str
    log: int | None = None


@dataclass(frozen=True)
class AnswerSteps(Payload, prefix="answers:steps"):
    """An entry's numbered steps ("Xem từng bước"); feedback goes to the question's log row."""

    entry: str
    log: int | None = None


@dataclass(frozen=True)
class AnswerPick(Payload, prefix="answers:pick"):
    """One of the entries offered when asking back."""

    log: int
    entry: str


@dataclass(frozen=True)
class AnswerNone(Payload, prefix="answers:none"):
    """None of the entries offered fits."""

    log: int


@dataclass(frozen=True)
class AnswersUnanswered(Payload, prefix="answers:unanswered"):
    """Admins: the questions the bot could not answer, counted (``trolyso unanswered``)."""


@dataclass(frozen=True)
class AnswerUp(Payload, prefix="answers:up"):
    """Thumbs up."""

    log: int


@dataclass(frozen=True)
class AnswerDown(Payload, prefix="answers:down"):
    """Thumbs down."""

    log: int


# --- joining a team (handlers/teams.py) ------------------------------------------------------


@dataclass(frozen=True)
class TeamCommune(Payload, prefix="team:commune"):
    """A commune (named by one of its teams): offer its villages."""

    team: int


@dataclass(frozen=True)
class TeamPick(Payload, prefix="team:pick"):
    """A village's team: join it."""

    team: int


@dataclass(frozen=True)
class TeamSkip(Payload, prefix="team:skip"):
    """No village chosen."""


@dataclass(frozen=True)
class TeamChoose(Payload, prefix="team:choose"):
    """Offer the communes and villages again."""


# --- team tools (handlers/team_tools.py); ``team`` 0 is every team (admins) ------------------


@dataclass(frozen=True)
class TeamHome(Payload, prefix="fu:home"):
    """The team tools (an admin without a team picks one)."""

    team: int | None = None


@dataclass(frozen=True)
class TeamSummary(Payload, prefix="fu:sum"):
    """The summary."""

    team: int


@dataclass(frozen=True)
class TeamStuck(Payload, prefix="fu:stuck"):
    """Who needs help."""

    team: int


@dataclass(frozen=True)
class GuideCitizens(Payload, prefix="fu:guide"):
    """A page of the team's citizens, to record in-person guidance."""

    team: int
    page: int


@dataclass(frozen=True)
class GuideSkills(Payload, prefix="fu:gcit"):
    """The skills a citizen may have been guided through."""

    team: int
    citizen: int


@dataclass(frozen=True)
class Guided(Payload, prefix="fu:guided"):
    """Record that a member guided a citizen through a skill in person."""

    team: int
    citizen: int
    skill: str


@dataclass(frozen=True)
class TeamChart(Payload, prefix="fu:chart"):
    """The progress chart (PNG)."""

    team: int


@dataclass(frozen=True)
class TeamCsv(Payload, prefix="fu:csv"):
    """Citizens x skills as CSV."""

    team: int


@dataclass(frozen=True)
class DashboardOpen(Payload, prefix="fu:dash"):
    """A one-time link to the web dashboard (staff only)."""


@dataclass(frozen=True)
class TeamCode(Payload, prefix="fu:code"):
    """The team's join code (a member's own team when none is given)."""

    team: int | None = None


@dataclass(frozen=True)
class TeamContact(Payload, prefix="fu:contact"):
    """A team's contact (phone or Zalo, meeting place, hours), to edit: leads and admins."""

    team: int


@dataclass(frozen=True)
class TeamContactField(Payload, prefix="fu:cfield"):
    """One contact field to type anew."""

    team: int
    field: Literal["phone", "place", "hours"]


@dataclass(frozen=True)
class TeamQueue(Payload, prefix="fu:queue"):
    """Open questions of a team (0: the admin queue)."""

    team: int


# --- one citizen: the team's note, a message (handlers/citizen_card.py) ----------------------


@dataclass(frozen=True)
class CitizenCard(Payload, prefix="fu:card"):
    """One citizen of the team: the note, "Viết ghi chú", "Nhắn cho bác"."""

    team: int
    citizen: int


@dataclass(frozen=True)
class NoteEdit(Payload, prefix="fu:note"):
    """Type the team's note on a citizen."""

    team: int
    citizen: int


@dataclass(frozen=True)
class NoteDelete(Payload, prefix="fu:notedel"):
    """Delete the team's note on a citizen."""

    team: int
    citizen: int


@dataclass(frozen=True)
class MessageCitizen(Payload, prefix="fu:msg"):
    """A member types a short message to a citizen ("Nhắn cho bác")."""

    team: int
    citizen: int


CARD_BUTTONS = (CitizenCard, NoteEdit, NoteDelete, MessageCitizen)

# --- questions for a human (handlers/team_questions.py) --------------------------------------


@dataclass(frozen=True)
class SendLogged(Payload, prefix="tq:log"):
    """Send a question the bot could not answer (its log row) to the team."""

    log: int


@dataclass(frozen=True)
class WriteQuestion(Payload, prefix="tq:write"):
    """Type a question for the team."""


@dataclass(frozen=True)
class CancelWriting(Payload, prefix="tq:cancel"):
    """Stop writing a question or an answer."""


@dataclass(frozen=True)
class AnswerQuestion(Payload, prefix="tq:answer"):
    """A member answers a queued question."""

    question: int


@dataclass(frozen=True)
class ThreadReply(Payload, prefix="tq:reply"):
    """ "Trả lời tổ": a citizen answers the member who wrote to them."""

    thread: int


@dataclass(frozen=True)
class ThreadAnswer(Payload, prefix="tq:again"):
    """The member answers a citizen's reply in their thread."""

    thread: int


TEAM_QUESTION_BUTTONS = (
    SendLogged,
    WriteQuestion,
    CancelWriting,
    AnswerQuestion,
    ThreadReply,
    ThreadAnswer,
)

# --- the scam check (handlers/scamcheck.py) --------------------------------------------------


@dataclass(frozen=True)
class ScamStart(Payload, prefix="scam:start"):
    """ "Kiểm tra tin lừa đảo": ask for the message to check."""


# --- broadcasts (handlers/broadcasts.py) -----------------------------------------------------


@dataclass(frozen=True)
class BroadcastNew(Payload, prefix="bcast:new"):
    """Start composing a broadcast."""


@dataclass(frozen=True)
class BroadcastTeam(Payload, prefix="bcast:team"):
    """An admin's choice of team (None: every citizen)."""

    team: int | None = field(default=None, metadata={"none": "all"})


@dataclass(frozen=True)
class BroadcastKind(Payload, prefix="bcast:kind"):
    """A lesson or a typed announcement."""

    kind: Literal["lesson", "text"]


@dataclass(frozen=True)
class BroadcastGroup(Payload, prefix="bcast:group"):
    """The lessons of one group."""

    group: str


@dataclass(frozen=True)
class BroadcastLesson(Payload, prefix="bcast:lesson"):
    """The lesson to push."""

    skill: str


@dataclass(frozen=True)
class BroadcastAudience(Payload, prefix="bcast:aud"):
    """Everyone, or only who has not passed the lesson."""

    which: Literal["all", "missing"]


@dataclass(frozen=True)
class BroadcastAt(Payload, prefix="bcast:at"):
    """Schedule: ask for a time."""


@dataclass(frozen=True)
class BroadcastDraft(Payload, prefix="bcast:draft"):
    """Open the announcement kept when nobody could receive it."""

    draft: int


@dataclass(frozen=True)
class BroadcastSend(Payload, prefix="bcast:send"):
    """Send (or schedule) as previewed."""


@dataclass(frozen=True)
class BroadcastCancel(Payload, prefix="bcast:cancel"):
    """Drop the draft."""


@dataclass(frozen=True)
class BroadcastStop(Payload, prefix="bcast:stop"):
    """Stop a scheduled or running broadcast: ask first, then (``sure``) stop it."""

    broadcast: int
    step: Literal["ask", "sure"] = "ask"


# --- certificates (handlers/certificates.py) ---------------------------------------------------


@dataclass(frozen=True)
class CertGet(Payload, prefix="cert:get"):
    """ "Nhận giấy ghi nhận": the citizen's certificate (issued the first time)."""


@dataclass(frozen=True)
class CertCheck(Payload, prefix="cert:check"):
    """ "Kiểm tra giấy ghi nhận": ask for a verification code."""


# --- reminders and review questions (handlers/nudges.py) ---------------------------------------


@dataclass(frozen=True)
class NudgeOff(Payload, prefix="nudge:off"):
    """ "Tắt nhắc": no more reminders and review questions."""


@dataclass(frozen=True)
class NudgeOn(Payload, prefix="nudge:on"):
    """ "Bật nhắc": reminders and review questions again."""


@dataclass(frozen=True)
class NudgeAnswer(Payload, prefix="nudge:ans"):
    """An answer choice (1-based) of a review question."""

    nudge: int
    question: str
    choice: int
