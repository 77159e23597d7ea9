"""Logging: MMLogger and print_log for messages, MessageHub and HistoryBuffer for scalars."""
from .history_buffer import HistoryBuffer
from .logger import MMLogger, print_log
from .message_hub import MessageHub

__all__ = ['MMLogger', 'print_log', 'HistoryBuffer', 'MessageHub']
