"""The running platform: intake, the action executor, video access, notifications and the live stream."""
