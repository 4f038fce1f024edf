// Packaging configuration in the requested layout, for anyone driving Electron Forge.
// `npm run dist` does NOT use this file: it runs electron-builder with electron-builder.yml
// (`builderConfig` below). electron/packaging.test.ts fails when the two state different names,
// resources, icon or deb dependencies.
export interface PackagingConfig {
  /** The configuration actually used by `npm run dist`. */
  builderConfig: string;
  packagerConfig: {
    name: string;
    executableName: string;
    asar: boolean;
    icon: string;
    /** Copied next to app.asar: the engine binary and the bundled sample images. */
    extraResource: string[];
  };
  makers: { name: string; platforms: string[]; config?: Record<string, unknown> }[];
}

const config: PackagingConfig = {
  builderConfig: "electron-builder.yml",
  packagerConfig: {
    name: "VGGT Workbench",
    executableName: "vggt-workbench",
    asar: true,
    icon: "assets/icons/icon.png",
    extraResource: ["native-engine/build/vggt-engine", "assets/sample"],
  },
  makers: [
    { name: "AppImage (electron-builder)", platforms: ["linux"] },
    { name: "@electron-forge/maker-deb", platforms: ["linux"], config: { options: { depends: ["libdnnl2", "libgomp1", "libpng16-16", "libjpeg62-turbo"], categories: ["Graphics"] } } },
  ],
};

export default config;
