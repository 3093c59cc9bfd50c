"""The template benchmark's workload: notification templates for alerts about credential
events (a subject line, a text and an HTML body), the data of each alert, and the same
template as a TemplateService message.
"""

from __future__ import annotations

from typing import Any

from eudi.connect.v1 import template_service_pb2 as tpb

from eudi_connect.core.templates import NotificationEvent, NotificationTemplate

__all__ = ["alert_data", "alert_message", "alert_template"]

EVENTS = list(NotificationEvent)
SCHEMA = ("holder_name", "credential_type", "credential_id", "reason", "days_left", "links")
SUBJECT = "{{ credential_type }} {{ credential_id }}: {{ event_label }}"
TEXT = """\
Dear {{ holder_name }},

your {{ credential_type }} ({{ credential_id }}) {{ event_label }}
{%- if reason %}: {{ reason }}{% endif %}.
{% if days_left is not none %}It expires in {{ days_left }} days.{% endif %}
{% for link in links %}- {{ link }}
{% endfor %}"""
HTML = """\
<html><body>
<p>Dear {{ holder_name }},</p>
<p>your <b>{{ credential_type }}</b> (<code>{{ credential_id }}</code>) {{ event_label }}
{%- if reason %}: <i>{{ reason }}</i>{% endif %}.</p>
{% if days_left is not none %}<p>It expires in {{ days_left }} days.</p>{% endif %}
<ul>{% for link in links %}<li><a href="{{ link }}">{{ link }}</a></li>{% endfor %}</ul>
</body></html>"""


def alert_template(number: int, *, variant: int = 0) -> NotificationTemplate:
    """Alert ``number``'s template; a new ``variant`` changes its subject line."""
    event = EVENTS[number % len(EVENTS)]
    label = event.value.replace("credential_", "was ")
    return NotificationTemplate(
        template_id=f"alert-{number}",
        subject_template=SUBJECT.replace("{{ event_label }}", f"{label} (v{variant})"),
        text_template=TEXT.replace("{{ event_label }}", label),
        html_template=HTML.replace("{{ event_label }}", label),
        event=event,
        data_schema=SCHEMA,
    )


def alert_data(number: int) -> dict[str, Any]:
    """The data of alert ``number``: markup to escape, optional fields set or not."""
    return {
        "holder_name": f"Holder <{number}> & family",
        "credential_type": "PID",
        "credential_id": f"{number:032x}",
        "reason": "device lost" if number % 3 == 0 else "",
        "days_left": number % 30 if number % 2 == 0 else None,
        "links": [f"https://issuer.example/c/{number}", "https://issuer.example/help"],
    }


def alert_message(template: NotificationTemplate) -> tpb.Template:
    """The template as the TemplateService sends it."""
    assert template.event is not None
    return tpb.Template(
        template_id=template.template_id,
        data_schema=template.data_schema,
        notification=tpb.NotificationTemplateSpec(
            event=getattr(tpb, f"NOTIFICATION_EVENT_{template.event.name}"),
            subject_template=template.subject_template,
            text_template=template.text_template,
            html_template=template.html_template,
        ),
    )
