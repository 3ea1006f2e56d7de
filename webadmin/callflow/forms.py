"""Forms of the call-flow area: DIDs, business hours, menus, queues, prompts, publishing."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import (
    BooleanField,
    FieldList,
    Form,
    FormField,
    HiddenField,
    IntegerField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, Regexp

from dialplan.document import FLOOR_FIELDS
from dialplan.settings import (
    STRATEGIES,
    VOICEMAIL_MAX_SEC,
    VOICEMAIL_MAX_SEC_LIMITS,
    WEEKDAYS,
)
from dialplan.virtual_hold import AFTER_SEC_LIMITS, REPEAT_SEC_LIMITS
from dialplan.virtual_hold import DEFAULT_PROMPT as CALLBACK_PROMPT
from dialplan.virtual_hold import KEYS as CALLBACK_KEYS
from webadmin.callflow.sounds import UPLOAD_FORMATS
from webadmin.labels import STRATEGIES as STRATEGY_WORDS

#: Menu and schedule names: they are keys in the flow and words in the card's IVR path.
NAME_RULE = Regexp(
    r"^[A-Za-z0-9_.-]{1,64}$", message=_l("Latin letters, digits, dot, dash, underscore.")
)
DIGITS = ("1", "2", "3", "4", "5", "6", "7", "8", "9", "0", "*", "#")
WEEKDAY_LABELS = {
    "mon": _l("Monday"),
    "tue": _l("Tuesday"),
    "wed": _l("Wednesday"),
    "thu": _l("Thursday"),
    "fri": _l("Friday"),
    "sat": _l("Saturday"),
    "sun": _l("Sunday"),
}
PROMPT_FIELD = [Optional(), Length(max=255)]


class DidForm(FlaskForm):
    """A dialled number: where its calls enter, the campaign it tracks, its hours."""

    number = StringField(_l("Number"), validators=[DataRequired(), Length(max=32)])
    entry = SelectField(
        _l("Calls enter"),
        validate_choice=False,
        validators=[DataRequired(_l("Choose where calls enter."))],
    )
    source = StringField(_l("Source / campaign"), validators=[Optional(), Length(max=128)])
    city = StringField(_l("City"), validators=[Optional(), Length(max=128)])
    schedule = SelectField(_l("Business hours"), validate_choice=False)
    active = BooleanField(_l("Active (calls to it are routed as set here)"), default=True)


class ScheduleForm(FlaskForm):
    """Business hours: weekly ranges in a zone, holidays, exceptions, an override."""

    name = StringField(_l("Name"), validators=[DataRequired(), NAME_RULE])
    timezone = StringField(
        _l("Time zone"), default="Europe/Moscow", validators=[DataRequired(), Length(max=64)]
    )
    mon = StringField(WEEKDAY_LABELS["mon"])
    tue = StringField(WEEKDAY_LABELS["tue"])
    wed = StringField(WEEKDAY_LABELS["wed"])
    thu = StringField(WEEKDAY_LABELS["thu"])
    fri = StringField(WEEKDAY_LABELS["fri"])
    sat = StringField(WEEKDAY_LABELS["sat"])
    sun = StringField(WEEKDAY_LABELS["sun"])
    holidays = TextAreaField(_l("Holidays"))
    exceptions = TextAreaField(_l("Exceptions"))
    override_state = SelectField(
        _l("Manual override"),
        choices=[
            SelectChoice("", _l("none: follow the hours")),
            SelectChoice("open", _l("open now")),
            SelectChoice("closed", _l("closed now")),
        ],
    )
    override_until = StringField(_l("Until (local time; empty: until switched off)"))
    closed_action = SelectField(
        _l("When closed"),
        validate_choice=False,
        validators=[DataRequired(_l("Choose what a call does when closed."))],
    )
    closed_message = StringField(
        _l("Message before hanging up, or the voicemail greeting"), validators=PROMPT_FIELD
    )
    closed_max_message_sec = IntegerField(
        _l("Longest voicemail message, s"),
        default=VOICEMAIL_MAX_SEC,
        validators=[Optional(), NumberRange(*VOICEMAIL_MAX_SEC_LIMITS)],
    )

    def weekday_fields(self) -> list[StringField]:
        """The seven day fields, Monday first."""
        return [getattr(self, day) for day in WEEKDAYS]


class OptionForm(Form):
    """One key of a menu and what it does."""

    digit = SelectField(
        _l("Key"),
        choices=[SelectChoice("", "—")] + [SelectChoice(digit, digit) for digit in DIGITS],
    )
    action = SelectField(_l("Action"), validate_choice=False)
    message = StringField(_l("Message"), validators=PROMPT_FIELD)
    label = StringField(_l("Meaning"), validators=[Optional(), Length(max=128)])


class MenuForm(FlaskForm):
    """A voice menu: its prompt, keys, timeouts and retries, and the default."""

    name = StringField(_l("Name"), validators=[DataRequired(), NAME_RULE])
    prompt = StringField(_l("Prompt"), validators=[DataRequired(), Length(max=255)])
    timeout_sec = IntegerField(
        _l("Seconds to wait for a key"), default=5, validators=[InputRequired(), NumberRange(1, 60)]
    )
    retries = IntegerField(
        _l("Retries after a timeout or a wrong key"),
        default=2,
        validators=[InputRequired(), NumberRange(0, 10)],
    )
    timeout_prompt = StringField(_l("Prompt when no key is pressed"), validators=PROMPT_FIELD)
    invalid_prompt = StringField(_l("Prompt after a wrong key"), validators=PROMPT_FIELD)
    options = FieldList(FormField(OptionForm))
    default_action = SelectField(
        _l("When the retries run out"),
        validate_choice=False,
        validators=[DataRequired(_l("Choose what happens then."))],
    )
    default_message = StringField(_l("Message played before hanging up"), validators=PROMPT_FIELD)


class MemberForm(Form):
    """An operator's place in a queue."""

    user_id = HiddenField()
    member = BooleanField(_l("Member"))
    penalty = IntegerField(_l("Penalty"), default=0, validators=[Optional(), NumberRange(0, 99)])


def _floor_field(name: str, label: Any) -> IntegerField:
    """A live-floor queue field with its default and limits (a clear message outside them)."""
    default, low, high = FLOOR_FIELDS[name]
    return IntegerField(
        label, default=default, validators=[InputRequired(), NumberRange(low, high)]
    )


class QueueForm(FlaskForm):
    """A queue: how Asterisk rings operators, how long callers wait, who answers."""

    name = StringField(
        _l("Name in Asterisk"),
        validators=[
            DataRequired(),
            Regexp(
                r"^[A-Za-z0-9_.-]{1,64}$",
                message=_l("Latin letters, digits, dot, dash, underscore."),
            ),
        ],
    )
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=128)])
    strategy = SelectField(
        _l("Ring strategy"),
        choices=[SelectChoice(name, STRATEGY_WORDS[name]) for name in STRATEGIES],
    )
    ring_timeout_sec = IntegerField(
        _l("Seconds an operator's phone rings"),
        default=15,
        validators=[InputRequired(), NumberRange(1, 300)],
    )
    max_wait_sec = IntegerField(
        _l("Longest wait in the queue, seconds"),
        default=120,
        validators=[InputRequired(), NumberRange(1, 7200)],
    )
    wrapup_sec = IntegerField(
        _l("Wrap-up time, seconds"), default=0, validators=[InputRequired(), NumberRange(0, 3600)]
    )
    service_level_sec = IntegerField(
        _l("Service level: answered within, seconds"),
        default=20,
        validators=[InputRequired(), NumberRange(0, 3600)],
    )
    retention_days = IntegerField(
        _l("Keep recordings, days (empty: forever)"), validators=[Optional(), NumberRange(1, 36500)]
    )
    # The live floor (limits: dialplan.settings.FLOOR_FIELDS).
    wrapup_hold_sec = _floor_field(
        "wrapup_hold_sec",
        _l("Hold the operator in wrap-up until the card is done, at most, seconds (0: not held)"),
    )
    missed_rings_pause = _floor_field(
        "missed_rings_pause",
        _l("Pause an operator after this many missed rings in a row (0: never)"),
    )
    max_wait_alert_sec = _floor_field(
        "max_wait_alert_sec", _l("Wallboard alert when a caller waits longer than, seconds")
    )
    service_level_target_pct = _floor_field(
        "service_level_target_pct", _l("Service-level target on the wallboard, %")
    )
    active = BooleanField(_l("Active"), default=True)
    members = FieldList(FormField(MemberForm))
    # Not posted (an older page, a script): the queue keeps what it has (callflow/queues.py).
    when_empty = SelectField(_l("When no operator can take the call"), validate_choice=False)
    when_empty_message = StringField(
        _l("Message played before hanging up"), validators=PROMPT_FIELD
    )
    when_timeout = SelectField(_l("When the longest wait runs out"), validate_choice=False)
    when_timeout_message = StringField(
        _l("Message played before hanging up"), validators=PROMPT_FIELD
    )
    # Callback tasks (callbacks/): not posted, the queue keeps what it has.
    callback_retries = StringField(
        _l("Call back again after"),
        default="+15m, +2h, next working day",
        validators=[Optional(), Length(max=200)],
    )
    callback_max_attempts = IntegerField(
        _l("Attempts before the caller counts as unreachable"),
        default=3,
        validators=[Optional(), NumberRange(1, 20)],
    )
    callback_short_abandon_sec = IntegerField(
        _l("An abandon shorter than this makes no callback, seconds"),
        default=5,
        validators=[Optional(), NumberRange(0, 600)],
    )
    callback_mode = SelectField(
        _l("Requested callbacks"),
        validate_choice=False,  # checked with the rest by dialplan.settings.read_callbacks
        choices=[
            SelectChoice("offer", _l("offered to the queue's operators")),
            SelectChoice("auto", _l("dialled when an operator is free")),
        ],
    )
    callback_caller_id = StringField(
        _l("Number the called-back customer sees (empty: the trunk's)"),
        validators=[Optional(), Regexp(r"^\+?[0-9]{3,15}$", message=_l("Digits only."))],
    )
    # Virtual hold (dialplan.virtual_hold); not posted: the queue keeps what it has.
    callback_after_sec = IntegerField(
        _l("Offer a callback after waiting, seconds (0: never)"),
        default=0,
        validators=[InputRequired(), NumberRange(*AFTER_SEC_LIMITS)],
    )
    callback_key = SelectField(
        _l("Key that takes the callback"),
        default="1",
        choices=[SelectChoice(key, key) for key in sorted(CALLBACK_KEYS)],
    )
    callback_repeat_sec = IntegerField(
        _l("Offer it again every, seconds"),
        default=60,
        validators=[InputRequired(), NumberRange(*REPEAT_SEC_LIMITS)],
    )
    callback_prompt = StringField(
        _l("The offer (a sound)"), default=CALLBACK_PROMPT, validators=PROMPT_FIELD
    )


class DefaultQueueForm(FlaskForm):
    """Where unknown or broken calls go."""

    default_queue = SelectField(
        _l("Default queue"), validate_choice=False, validators=[DataRequired()]
    )


class RecordingForm(FlaskForm):
    """What every caller hears first, since every call is recorded."""

    announcement = StringField(
        _l("Announcement played to every caller first (empty: none)"), validators=PROMPT_FIELD
    )


class UploadForm(FlaskForm):
    """A voice prompt to upload."""

    audio = FileField(
        _l("Audio file (WAV, MP3 or OGG, up to 10 MB)"),
        validators=[
            FileRequired(_l("Choose a file.")),
            FileAllowed(UPLOAD_FORMATS, _l("Upload a WAV, MP3 or OGG file.")),
        ],
    )
    name = StringField(
        _l("Name (Latin letters, digits, dash; empty: from the file name)"),
        validators=[Optional(), Length(max=64)],
    )
    replace = BooleanField(_l("Replace a prompt of the same name"))


class PublishForm(FlaskForm):
    """Publish the draft: a comment says what changed and why."""

    comment = StringField(
        _l("What changed and why"),
        validators=[DataRequired(_l("Say in a few words what changed.")), Length(max=500)],
    )


class RollbackForm(FlaskForm):
    """Roll back to an earlier version (the hidden field guards against a stray request)."""

    version = HiddenField(validators=[DataRequired()])


class ConfirmForm(FlaskForm):
    """A button that changes something: only the CSRF token."""


class SimulatorForm(FlaskForm):
    """A test call: the number dialled, the caller, the moment, the keys pressed."""

    class Meta:
        csrf = False  # a GET form that changes nothing

    did = StringField(_l("Number dialled (DID)"), validators=[DataRequired(), Length(max=32)])
    caller = StringField(
        _l("Caller's number"), default="+79161234567", validators=[Optional(), Length(max=32)]
    )
    day = StringField(_l("Date"), validators=[DataRequired()])
    at = StringField(_l("Time"), validators=[DataRequired()])
    timezone = StringField(
        _l("Time zone"), default="Europe/Moscow", validators=[DataRequired(), Length(max=64)]
    )
    keys = StringField(
        _l("Keys, one answer per prompt (comma; empty = silence)"),
        validators=[Optional(), Length(max=200)],
    )
    queues = StringField(
        _l("What each queue does, in order (comma): answered, empty or timeout; then it answers"),
        validators=[Optional(), Length(max=200)],
    )
    flow = SelectField(
        _l("Call flow"),
        choices=[
            SelectChoice("published", _l("published (what calls follow now)")),
            SelectChoice("draft", _l("draft (not yet published)")),
        ],
    )
