"""mmlite.device: MMEngine's module path for the device queries."""
import torch

from mmlite import device


def test_device_queries_match_torch_on_this_machine():
    expected = 'cuda' if torch.cuda.is_available() else 'mps' if torch.backends.mps.is_available() else 'cpu'
    assert device.get_device() == expected
    assert device.is_cuda_available() == torch.cuda.is_available()
    assert device.is_npu_available() is False  # torch_npu is not installed
    assert device.is_mlu_available() is False and device.is_musa_available() is False


def test_out_of_tree_backend_is_detected_when_torch_has_it(monkeypatch):
    class FakeNpu:
        @staticmethod
        def is_available():
            return True

    monkeypatch.setattr(torch, 'npu', FakeNpu, raising=False)
    assert device.is_npu_available() is True


def test_max_cuda_memory_is_reported_in_mb_and_reset(monkeypatch):
    calls = []
    monkeypatch.setattr(torch.cuda, 'max_memory_allocated', lambda device=None: 3 * 1024 * 1024 + 5)
    monkeypatch.setattr(torch.cuda, 'reset_peak_memory_stats', lambda device=None: calls.append(device))
    assert device.get_max_cuda_memory('cuda:0') == 3
    assert calls == ['cuda:0']
