/** The log reader with `requestAPI` mocked: cursors passed back, `\r` collapsed, done. */
import { requestAPI } from '../src/handler';
import { LogModel } from '../src/logmodel';
import { ILogEvent } from '../src/tokens';

jest.mock('../src/handler', () => {
  class ApiError extends Error {
    constructor(
      readonly code: string,
      message: string,
      readonly status: number
    ) {
      super(message);
    }
  }
  return { ApiError, requestAPI: jest.fn() };
});

const mocked = requestAPI as jest.MockedFunction<typeof requestAPI>;

function line(message: string): ILogEvent {
  return { timestamp: 1, host: 'algo-1', message };
}

it('passes the cursor back, collapses progress bars and stops when done', async () => {
  const pages = [
    { events: [line('epoch 1'), line(' 10%|#    |\r100%|#####|')], cursor: 'c1', done: false },
    { events: [line('bye')], cursor: 'c2', done: true }
  ];
  const routes: string[] = [];
  mocked.mockImplementation(async (route = '') => {
    routes.push(route);
    if (route.includes('/logs')) {
      return pages.shift() as any;
    }
    return { name: 'job', status: 'Completed' } as any;
  });
  const model = new LogModel('job', { auto: false });
  const shown: string[] = [];
  model.appended.connect((_, events) => shown.push(...events.map(e => e.message)));
  await model.fetch();
  await model.fetch();
  expect(shown).toEqual(['epoch 1', '100%|#####|', 'bye']);
  expect(routes[0]).toBe('jobs/job/logs?limit=1000');
  expect(routes[1]).toBe('jobs/job/logs?limit=1000&cursor=c1');
  expect(model.done).toBe(true);
  expect(model.lineCount).toBe(3);
  model.dispose();
});
