import { randomBytes, randomInt } from 'node:crypto';

const HEROES = [
  'antman', 'aquaman', 'batgirl', 'batman', 'beast', 'blackpanther', 'blackwidow', 'blade', 'cable',
  'captainamerica', 'captainmarvel', 'catwoman', 'colossus', 'cyborg', 'daredevil', 'deadpool', 'domino',
  'drstrange', 'elektra', 'falcon', 'flash', 'gambit', 'gamora', 'greenarrow', 'greenlantern', 'groot',
  'hawkeye', 'hellboy', 'hulk', 'ironfist', 'ironman', 'jeangrey', 'lukecage', 'martianmanhunter',
  'mantis', 'moonknight', 'nightcrawler', 'nova', 'phoenix', 'professorx', 'psylocke', 'punisher',
  'quicksilver', 'raven', 'robin', 'rogue', 'shazam', 'shehulk', 'silversurfer', 'spiderman', 'starfire',
  'storm', 'superman', 'thor', 'vision', 'wasp', 'wolverine', 'wonderwoman', 'zatanna',
];

/** `deadpool_a23dae5`: a hero, `_`, seven lower-case hex digits. The store draws again while one is taken. */
export function randomSuperheroName(): string {
  return `${HEROES[randomInt(HEROES.length)]}_${randomBytes(4).toString('hex').slice(0, 7)}`;
}

