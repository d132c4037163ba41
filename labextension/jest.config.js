/**
 * Unit tests run on the pure modules and the React components in jsdom.
 * They import no JupyterLab package at run time, so no ESM transform of
 * node_modules is needed.
 */
module.exports = {
  testEnvironment: 'jsdom',
  roots: ['<rootDir>/src'],
  testMatch: ['**/__tests__/**/*.spec.ts?(x)'],
  moduleFileExtensions: ['ts', 'tsx', 'js', 'json'],
  transform: {
    '^.+\\.tsx?$': ['ts-jest', { tsconfig: 'tsconfig.test.json' }]
  },
  collectCoverageFrom: [
    'src/**/*.{ts,tsx}',
    '!src/**/__tests__/**',
    '!src/index.ts',
    '!src/panel.tsx',
    '!src/connection.ts',
    '!src/icon.ts'
  ]
};
