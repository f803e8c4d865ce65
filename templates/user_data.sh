#!/bin/bash
# orderpipe generator host for stack {{stack}} — rendered by orderpipe/targets/aws/ec2.py.
# cloud-init runs this once, as root, at first boot; its output is in /var/log/cloud-init-output.log.
# It installs the Kinesis Agent (tailing the generator's log files into the delivery stream) and
# runs `orderpipe generate --no-ship` as the systemd service orderpipe-generator.
set -euo pipefail

REGION={{region}}
GENERATOR_URL={{generator_url}}
LOG_DIR=/var/log/orderpipe

# Cost guard: the instance is launched to terminate on shutdown, and shuts down after its lifetime.
shutdown -h +{{lifetime_minutes}} "orderpipe generator lifetime reached"

# The agent's init script installs its run directory with group aws-kinesis-agent-user, which
# minimal AL2023 images lack: make the group (and the user in it) before installing the agent.
getent group aws-kinesis-agent-user >/dev/null || groupadd --system aws-kinesis-agent-user
if id aws-kinesis-agent-user >/dev/null 2>&1; then
  usermod --gid aws-kinesis-agent-user aws-kinesis-agent-user
else
  useradd --system --gid aws-kinesis-agent-user --no-create-home --shell /sbin/nologin \
    aws-kinesis-agent-user
fi
dnf install -y aws-kinesis-agent python3.11 python3.11-pip
usermod --gid aws-kinesis-agent-user aws-kinesis-agent-user
# Agent 1.x cannot fetch instance-profile credentials when IMDSv2 is required: refuse it loudly.
agent_version=$(rpm -q --queryformat '%{VERSION}' aws-kinesis-agent)
case "$agent_version" in
  1.*) echo "aws-kinesis-agent $agent_version cannot use IMDSv2; 2.x is needed" >&2; exit 1 ;;
esac

# Checkpoints live on persistent disk: /var/run (the agent's default) is emptied at reboot, and
# an agent without its checkpoints re-sends whole files.
install -d -o aws-kinesis-agent-user -g aws-kinesis-agent-user -m 0750 /var/lib/aws-kinesis-agent
install -d -m 0755 /etc/aws-kinesis
cat > /etc/aws-kinesis/agent.json <<'ORDERPIPE_AGENT_JSON'
{{agent_json}}
ORDERPIPE_AGENT_JSON

# The generator: its own user, its own venv, only what `generate --no-ship` needs.
getent passwd orderpipe >/dev/null || useradd --system --no-create-home --shell /sbin/nologin orderpipe
install -d -o orderpipe -g orderpipe -m 0755 "$LOG_DIR" /var/lib/orderpipe
ln -sfn "$LOG_DIR" /var/lib/orderpipe/logs   # `generate` writes to <home>/logs
aws s3 cp --region "$REGION" "$GENERATOR_URL" /opt/orderpipe.tar.gz
python3.11 -m venv /opt/orderpipe
/opt/orderpipe/bin/pip install --quiet --no-deps /opt/orderpipe.tar.gz
/opt/orderpipe/bin/pip install --quiet {{pip_packages}}

cat > /etc/systemd/system/orderpipe-generator.service <<'ORDERPIPE_UNIT'
[Unit]
Description=orderpipe order generator (stack {{stack}})
Wants=network-online.target
After=network-online.target aws-kinesis-agent.service

[Service]
Type=exec
User=orderpipe
Group=orderpipe
UMask=0022
Environment=ORDERPIPE_HOME=/var/lib/orderpipe
ExecStart=/opt/orderpipe/bin/orderpipe {{generate_args}}
Restart=no

[Install]
WantedBy=multi-user.target
ORDERPIPE_UNIT

# The agent ships an LSB init script: start it through systemd, enable it where chkconfig exists.
systemctl daemon-reload
systemctl start aws-kinesis-agent
systemctl enable aws-kinesis-agent || echo "aws-kinesis-agent not enabled at boot (no chkconfig)"
systemctl enable --now orderpipe-generator.service
