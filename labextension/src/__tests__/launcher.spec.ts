import type { ILauncher } from '@jupyterlab/launcher';
import {
  LAUNCHER_CATEGORY,
  NEW_NOTEBOOK_COMMAND,
  SessionLauncher,
  cardCaption,
  cardLabel
} from '../launcher';
import type { ISessionSpec } from '../sessionKernels';
import { PARENT, PLAIN_SPEC } from './fakes';

class FakeLauncher {
  items: ILauncher.IItemOptions[] = [];
  add(options: ILauncher.IItemOptions): { dispose(): void } {
    this.items.push(options);
    return {
      dispose: () => {
        this.items = this.items.filter(item => item !== options);
      }
    };
  }
}

const PLAIN = PLAIN_SPEC;
const TEAM: ISessionSpec = {
  name: 'session-template-team',
  displayName: 'Team',
  description: 'The team’s defaults',
  language: 'scala',
  template: `${PARENT}/sessionTemplates/team`,
  parent: PARENT
};

describe('SessionLauncher', () => {
  it('adds one card per spec in the Sessions section, in order', () => {
    const launcher = new FakeLauncher();
    const cards = new SessionLauncher(launcher);
    expect(cards.update([PLAIN, TEAM])).toBe(true);
    expect(launcher.items).toEqual([
      {
        command: NEW_NOTEBOOK_COMMAND,
        args: { kernelName: 'session', isLauncher: true },
        category: LAUNCHER_CATEGORY,
        categoryRank: 10,
        rank: 0
      },
      {
        command: NEW_NOTEBOOK_COMMAND,
        args: { kernelName: 'session-template-team', isLauncher: true },
        category: 'Sessions',
        categoryRank: 10,
        rank: 1
      }
    ]);
    expect(cards.names).toEqual(['session', 'session-template-team']);
    expect(cards.spec('session-template-team')).toBe(TEAM);
  });

  it('keeps the cards while the specs stay the same, replaces them when they change', () => {
    const launcher = new FakeLauncher();
    const cards = new SessionLauncher(launcher);
    cards.update([PLAIN, TEAM]);
    const first = launcher.items[0];
    expect(cards.update([{ ...PLAIN }, { ...TEAM }])).toBe(false);
    expect(launcher.items[0]).toBe(first);

    expect(cards.update([PLAIN])).toBe(true);
    expect(launcher.items.map(i => i.args?.kernelName)).toEqual(['session']);
    cards.clear();
    expect(launcher.items).toEqual([]);
    expect(cards.names).toEqual([]);
  });
});

describe('card texts', () => {
  it('labels a card with the display name, a menu item with more', () => {
    expect(cardLabel(TEAM, true)).toBe('Team');
    expect(cardLabel(TEAM, false)).toBe('New Notebook: Team');
    expect(cardLabel(undefined, true)).toBe('Session kernel');
  });

  it('says what a card creates and where', () => {
    expect(cardCaption(TEAM)).toBe(
      `The team’s defaults\nCreates a Scala session from template team in ${PARENT} and opens a notebook whose kernel runs in it`
    );
    expect(cardCaption(PLAIN)).toContain(
      'Creates a Python session with the default settings'
    );
  });
});
