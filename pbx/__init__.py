"""What Asterisk itself must know (queues and their operators), applied through AMI.

`queues_conf` renders the generated queues include file, `ami` is a small synchronous AMI
client (pyst2), `queue_state` reads and checks what app_queue runs, `apply` puts it together.
"""
