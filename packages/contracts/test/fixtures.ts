import type { JobRequestInput } from '@controlplane/contracts';

export const validJobRequest = (): JobRequestInput => ({
  id: '3f2b8c1e-6d4a-4b5e-9c7d-1a2b3c4d5e6f',
  type: 'image.resize',
  payload: { type: 'image', data: { url: 'https://example.com/a.png', width: 128 } },
  metadata: { source: 'test-suite', createdAt: '2026-11-28T12:00:00.000Z' },
});
