"""String enums shared by every layer."""

from __future__ import annotations

from enum import StrEnum


class RequestKind(StrEnum):
    """What a request asks for: a new connector, or a change to one in the inventory."""

    CREATE = "create"
    ROTATE = "rotate"  # new secrets only
    CHANGE = "change"  # new non-secret settings (and the secrets again: Kibana needs them)
    RETIRE = "retire"  # delete it
    EXTEND = "extend"  # push its expiry back


class RequestStatus(StrEnum):
    """Where a connector request is in its life (see the flow in the product brief)."""

    PENDING = "pending"
    APPROVED = "approved"
    PROVISIONING = "provisioning"
    PROVISIONED = "provisioned"
    TESTED_OK = "tested_ok"
    TEST_FAILED = "test_failed"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    FAILED = "failed"
    DELIVERED = "delivered"
    # A retire or extend request once its change is made (nothing to test): final.
    COMPLETED = "completed"


class Provider(StrEnum):
    """The ways to reach an LLM from Elastic's guide "Configure access to LLMs"."""

    OPENAI = "openai"
    AZURE_OPENAI = "azure_openai"
    BEDROCK = "bedrock"
    VERTEX = "vertex"
    VLLM = "vllm"
    LM_STUDIO = "lm_studio"
    OPENAI_COMPATIBLE = "openai_compatible"
    ELASTIC_MANAGED = "elastic_managed"
    # Only as Elasticsearch inference endpoints (no Kibana connector type exists for them).
    ANTHROPIC = "anthropic"
    MISTRAL = "mistral"
    ELASTIC_INFERENCE = "elastic_inference"


class Decision(StrEnum):
    APPROVED = "approved"
    REJECTED = "rejected"


class JobKind(StrEnum):
    """Work persisted in the database and carried out after Slack has been answered."""

    POST_CARD = "card.post"
    REFRESH_CARD = "card.refresh"
    THREAD_REPLY = "thread.reply"
    DM_REQUESTER = "requester.dm"
    NOTIFY_CHANNEL = "notify_channel.post"
    PROVISION = "kibana.provision"
    TEST_CONNECTOR = "kibana.test"
    INDEX_AUDIT = "audit.index"  # copy one audit event into the AUDIT_INDEX data stream
    EXPORT_AUDIT = "audit.export"  # build an audit export and upload it to an approver's DM
    PUBLISH_HOME = "home.publish"  # payload {"user": id}: republish that person's Home tab
    REMIND = "reminder.post"  # a reminder in the card's thread
    ESCALATE = "escalation.post"  # the escalation: in the thread, or a DM to one person
    ESCALATE_DM = "escalation.dm"
    RETEST = "lifecycle.retest"
    RECONCILE = "lifecycle.reconcile"
    LIFECYCLE_NOTICE = "lifecycle.notice"
    ADOPTED_MESSAGE = "lifecycle.adopted"
    LIFECYCLE_DIGEST = "lifecycle.digest"
    DM_APPROVER = "approver.dm"  # payload: user, notice
    ROLLBACK_CHANGE = "kibana.rollback"  # put a failed change's previous settings back
    RETIRE = "kibana.retire"  # an approved retire request: delete the managed connector
    EXTEND = "lifecycle.extend"  # an approved extend request: move its expiry
    EXPIRE = "lifecycle.expire"  # payload {"managed_id"}: delete a connector at its expiry


class JobStatus(StrEnum):
    """Where a queued job is: waiting (or running under a lease), finished, or given up."""

    QUEUED = "queued"
    DONE = "done"
    DEAD = "dead"


class Notice(StrEnum):
    """What a notification job tells people about."""

    SUBMITTED = "submitted"
    DECIDED = "decided"
    OUTCOME = "outcome"
    CLOSED = "closed"
    UNDELIVERED = "undelivered"  # the approval card could not be posted
    KIBANA_RETRYING = "kibana_retrying"  # Kibana failed; the bot keeps trying until a deadline
    BREAK_GLASS = "break_glass"  # told to the rule's other approvers


class AuditAction(StrEnum):
    SUBMITTED = "submitted"
    APPROVED = "approved"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    DECISION_REFUSED = "decision_refused"
    PROVISIONING_STARTED = "provisioning_started"
    PROVISIONED = "provisioned"
    PROVISIONING_FAILED = "provisioning_failed"
    TESTED = "tested"
    SECRETS_ERASED = "secrets_erased"
    DELIVERED_AS_YAML = "delivered_as_yaml"
    DELIVERED_AS_DEVTOOLS = "delivered_as_devtools"
    COMMAND_REFUSED = "command_refused"  # a slash-command verb someone may not use
    AUDIT_EXPORTED = "audit_exported"
    REMINDED = "reminded"
    ESCALATED = "escalated"
    ADOPTED = "adopted"
    OWNER_TRANSFERRED = "owner_transferred"  # a managed connector has a new owner
    MANAGED_STATE_CHANGED = "managed_state_changed"
    AUTO_APPROVED = "auto_approved"  # approved by a policy rule's auto_approve
    BREAK_GLASS = "break_glass"  # an approver approved their own request, with a reason
    APPROVAL_COUNTED = "approval_counted"  # one approval of several needed
    CHANGE_APPLIED = "change_applied"  # a rotate or change updated the connector in place
    ROLLBACK_REQUESTED = "rollback_requested"  # someone rolled a failed change back
    ROLLED_BACK = "rolled_back"  # the previous settings are back (or the rollback failed)
    RETIRED = "retired"  # a managed connector deleted by an approved retire request
    EXTENDED = "extended"  # a managed connector's expiry moved by an approved extension
    CONNECTOR_EXPIRED = "connector_expired"  # deleted by the bot at its expiry
    EXPIRY_WARNED = "expiry_warned"  # its owner told it expires soon
