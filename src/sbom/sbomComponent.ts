/**
 * One thing a bundle carries, as the software bill of materials lists it. Every artifact kind reports
 * its own (a .deb, a wheel, a git repository, a rootfs, a file); the build turns them into the
 * bundle's CycloneDX document (writeCycloneDx) without knowing any kind.
 */
export interface SbomComponent {
  /** unique in the document: the purl of a package, else the bundle path of the entry */
  ref: string;
  type: 'application' | 'library' | 'file' | 'operating-system' | 'container';
  name: string;
  version?: string;
  /** package URL: pkg:deb/debian/NAME@VERSION?arch=ARCH&distro=SUITE, pkg:pypi/NAME@VERSION, pkg:generic/NAME@COMMIT, pkg:oci/NAME@DIGEST */
  purl?: string;
  /** of the bytes the bundle carries */
  sha256?: string;
  /** where the bundle carries it */
  path?: string;
  /** the services that use it: each service depends on it */
  services: string[];
  /** refs of the components it needs (a .deb's Depends and Pre-Depends met inside the bundle) */
  dependsOn?: string[];
  /** facts with no CycloneDX field of their own (names in the ferry: namespace; a name may repeat) */
  properties?: Array<{ name: string; value: string }>;
  /** where the source lives (a git repository's URL) */
  vcs?: string;
  /** what is inside it (the Debian packages installed in an mmdebstrap rootfs) */
  contains?: SbomComponent[];
}
