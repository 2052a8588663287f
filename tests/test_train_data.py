"""Step-indexed batching: a resumed sampler sees exactly what the original would have."""

from __future__ import annotations

import itertools

import torch

from tts_ebm.train.data import BucketBatchSampler


def take(sampler: BucketBatchSampler, n: int) -> list[list[int]]:
    return list(itertools.islice(iter(sampler), n))


def test_start_offset_continues_the_same_stream():
    lengths = [(i * 37) % 101 + 10 for i in range(103)]
    full = take(BucketBatchSampler(lengths, 8, seed=5), 40)
    resumed = take(BucketBatchSampler(lengths, 8, seed=5, start=17), 23)
    assert resumed == full[17:]


def test_batches_cover_each_pass_and_group_lengths():
    lengths = [(i * 37) % 101 + 10 for i in range(96)]
    sampler = BucketBatchSampler(lengths, 8, seed=1, bucket_factor=4)
    first_pass = take(sampler, 12)
    assert sorted(i for b in first_pass for i in b) == list(range(96))
    spread = [max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in first_pass]
    assert max(spread) < 60  # sorted within windows of 32: far tighter than random (≈ 90)
    assert take(BucketBatchSampler(lengths, 8, seed=2), 12) != first_pass


def test_ranks_get_disjoint_interleaved_batches():
    lengths = list(range(10, 90))
    single = take(BucketBatchSampler(lengths, 4, seed=3), 20)
    rank0 = take(BucketBatchSampler(lengths, 4, seed=3, rank=0, world_size=2), 10)
    rank1 = take(BucketBatchSampler(lengths, 4, seed=3, rank=1, world_size=2), 10)
    assert rank0 == single[0::2] and rank1 == single[1::2]
    resumed1 = take(BucketBatchSampler(lengths, 4, seed=3, start=4, rank=1, world_size=2), 6)
    assert resumed1 == rank1[4:]


def test_random_segments_cut_aligned_windows_inside_each_utterance():
    from tts_ebm.model.layers import random_segments, sequence_mask

    torch.manual_seed(0)
    lengths = torch.tensor([50, 12, 30])
    mask = sequence_mask(lengths, 50).unsqueeze(1).float()
    frames = torch.arange(50.0).expand(3, 2, 50).clone() * mask  # value = frame index
    other = frames + 1000.0
    for _ in range(20):
        (y, z), crop_mask = random_segments([frames, other], mask, 20)
        assert y.shape == (3, 2, 20) and crop_mask.shape == (3, 1, 20)
        assert torch.equal(z, y + 1000.0 * torch.ones_like(y))  # both cut at the same place
        for b, length in enumerate(lengths.tolist()):
            kept = int(crop_mask[b].sum())
            assert kept == min(20, length)
            start = int(y[b, 0, 0])
            assert 0 <= start <= max(0, length - 20)
            assert torch.equal(y[b, 0, :kept], torch.arange(start, start + kept, dtype=y.dtype))
    # the short utterance is kept whole, from its first frame
    assert int(y[1, 0, 0]) == 0
    torch.manual_seed(5)
    first = random_segments([frames], mask, 20)[0][0]
    torch.manual_seed(5)
    assert torch.equal(first, random_segments([frames], mask, 20)[0][0])
